"""Widgets and cell rendering used by the TUI screens."""
