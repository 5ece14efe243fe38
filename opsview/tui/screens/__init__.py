"""The TUI's screens: fleet (the default), function detail, alerts and key help."""
