/* opsview web: keyboard access to the dropdowns, and the grid's comparator. */

/* Keyboard access to Dash 4's dropdowns without an aria-hidden focus target (see opsview.css).
 * The dropdown's button has tabindex=-1 and is reached through a hidden input; that input is not
 * displayed here, so the button itself joins the tab order. React leaves the attribute alone
 * afterwards: the prop it set does not change. Only added subtrees are searched, so charts and the
 * grid redrawing cost next to nothing. */
(function () {
    var SELECTOR = 'button.dash-dropdown[tabindex="-1"]:not([disabled])';
    function fix(node) {
        if (node.nodeType !== 1) { return; }
        if (node.matches(SELECTOR)) { node.tabIndex = 0; }
        node.querySelectorAll(SELECTOR).forEach(function (b) { b.tabIndex = 0; });
    }
    new MutationObserver(function (mutations) {
        mutations.forEach(function (m) { m.addedNodes.forEach(fix); });
    }).observe(document.documentElement, {childList: true, subtree: true});
    fix(document.documentElement);
})();

/* The Functions grid's comparator (dash-ag-grid looks comparators up by name here): a missing value sorts
 * last in either direction, as in the TUI. AG Grid reverses the result for a descending sort, so
 * "missing is greater" holds only when descending. */
window.dashAgGridFunctions = window.dashAgGridFunctions || {};
window.dashAgGridFunctions.nullsLast = function (a, b, nodeA, nodeB, isDescending) {
    if (a == null || b == null) {
        if (a == null && b == null) { return 0; }
        return (a == null) === isDescending ? -1 : 1;
    }
    return a - b;
};
