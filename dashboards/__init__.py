"""The web dashboard (Plotly Dash). Build it with `dashboards.app.create_app(store, config)`."""
