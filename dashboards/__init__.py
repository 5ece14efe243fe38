"""The web dashboard (Plotly Dash). Build it with `opsview.web.app.create_app(store, config)`."""
