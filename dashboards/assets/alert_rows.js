/* opsview web: a click anywhere on an alert row opens its function, as the row's link does.
   Dash's own navigation, as dcc.Link does it: pushState, then the event Dash's locations listen to.
   Links, buttons and form fields keep their clicks; selecting text or a modified click does not navigate. */
document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey ||
        event.altKey) {
        return;
    }
    var target = event.target;
    if (!(target instanceof Element) || target.closest("a, button, input, select, textarea, label")) {
        return;
    }
    var row = target.closest("tr[data-href]");
    if (!row || String(window.getSelection() || "") !== "") {
        return;
    }
    window.history.pushState({}, "", row.getAttribute("data-href"));
    window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    window.scrollTo(0, 0);
});
