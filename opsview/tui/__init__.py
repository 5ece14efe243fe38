"""The terminal UI (Textual). Import `opsview.tui.app.OpsviewApp`; nothing here loads at `opsview` import."""
