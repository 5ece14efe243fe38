"""Hostile names: each is a legal function, rule or source name that some renderer could take for markup,
markdown, HTML or a terminal control sequence. Every place that shows a name must show these as the characters
they are. Shared by the CLI tests (rich tables, plain lines) and the browser tests (the grid, the pages)."""

from __future__ import annotations

RICH_MARKUP = (
    "[/]",                                  # MarkupError: sank `opsview status` for the whole fleet
    "[bold]x",                              # would render as a bold x
    "[red]alarm[/red]",
    "[link=https://evil.example]pay[/link]",
    ":fire: hot",                           # rich's emoji codes: would print a flame
    "trailing\\",                           # a backslash before rich's closing tag
)
TERMINAL = (
    "esc\x1b[31mred",                       # an ANSI colour sequence: the terminal would obey it
    "bell\x07",
)
MARKDOWN_HTML = (
    "![t](http://{beacon}/beacon.png)",     # markdown image: the grid fetched it
    "phish](https://evil.example/login)[",  # closed a markdown link into a foreign one
    "[x](javascript:alert(1))",
    "<img src=http://{beacon}/img.png>",
    "<script>alert(1)</script>",
    "**bold** _it_ `code`",
)


def markdown_html(beacon: str) -> tuple[str, ...]:
    """The markdown/HTML names with `beacon` (host:port of a local server that must never be asked) filled in."""
    return tuple(name.format(beacon=beacon) for name in MARKDOWN_HTML)


def shown(name: str) -> str:
    """How a terminal line shows `name`: each control character as its escape (ESC as \\u001b), the rest as is."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in name)
