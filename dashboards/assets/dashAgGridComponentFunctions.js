/* Cell renderers for dash-ag-grid (it looks them up by name in window.dashAgGridComponentFunctions).
 *
 * FunctionLink: the function's name as a link to its page. The name is data, never markup: React puts it in a
 * text node, so `![t](http://host/beacon)` or `<img src=x>` shows as those characters and fetches nothing.
 * The href comes from the server (`/function/<url-encoded key>`); anything not a same-site path is dropped.
 */
var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

dagcomponentfuncs.FunctionLink = function (props) {
    var name = props.value == null ? "" : String(props.value);
    var href = props.data && typeof props.data.href === "string" ? props.data.href : "";
    if (href.charAt(0) !== "/" || href.charAt(1) === "/" || href.charAt(1) === "\\") {
        return React.createElement("span", null, name);
    }
    return React.createElement("a", {href: href}, name);
};
