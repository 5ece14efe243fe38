"""Where each key of a TOML file is written (key path -> line), so an error can name its line.

`tomllib` returns values without positions and no maintained TOML library reports them, so this walks
the text once more, after `tomllib` has accepted it: table headers, arrays of tables, dotted and quoted
keys, inline tables, arrays (each element gets its index) and strings (a `[x]` or `k = v` inside a
multi-line string is text, not a key). Values themselves are skipped, not interpreted.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Mapping

Loc = tuple[int | str, ...]
KeyLines = Mapping[Loc, int]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = frozenset(",]}\n#")


def key_lines(text: str) -> dict[Loc, int]:
    """Map every key path the file spells out (and each shorter path leading to it) to its first line."""
    scanner = _Scanner(text)
    with contextlib.suppress(_StopScanError, RecursionError):  # what was mapped before still names lines
        scanner.document()
    return scanner.lines


def line_of(lines: KeyLines, loc: Loc) -> int | None:
    """The line of the longest leading part of `loc` the file spells out (a missing key: its table)."""
    for end in range(len(loc), 0, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None


class _StopScanError(Exception):
    """Text the scanner does not follow (it only ever sees files tomllib accepted)."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[Loc, int] = {}
        self.arrays: dict[tuple[str, ...], int] = {}
        """Array-of-tables name path -> elements seen so far."""

    # --- low level ---------------------------------------------------------------------------

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def advance(self, n: int = 1) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + n)
        self.pos += n

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise _StopScanError
        self.advance()

    def skip_blank(self, newlines: bool) -> None:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self.advance()
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def record(self, path: Loc) -> None:
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], self.line)

    # --- grammar -----------------------------------------------------------------------------

    def document(self) -> None:
        table: Loc = ()
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.peek() == "[":
                double = self.peek(2) == "[["
                self.advance(2 if double else 1)
                names = self.key()
                self.skip_blank(newlines=False)
                for _ in range(2 if double else 1):
                    self.expect("]")
                table = self._header(names, double)
                self.record(table)
            else:
                path = table + tuple(self.key())
                self.skip_blank(newlines=False)
                self.expect("=")
                self.skip_blank(newlines=False)
                self.record(path)
                self.value(path)

    def _header(self, names: list[str], double: bool) -> Loc:
        path: Loc = ()
        for index, name in enumerate(names):
            path += (name,)
            plain = tuple(p for p in path if isinstance(p, str))
            if double and index == len(names) - 1:
                count = self.arrays.get(plain, 0) + 1
                self.arrays = {k: v for k, v in self.arrays.items() if k[: len(plain)] != plain or k == plain}
                self.arrays[plain] = count
                path += (count - 1,)
            elif plain in self.arrays:
                path += (self.arrays[plain] - 1,)
        return path

    def key(self) -> list[str]:
        names: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            if self.peek() in ('"', "'"):
                start = self.pos
                self.string()
                names.append(_decode_quoted(self.text[start : self.pos]))
            else:
                start = self.pos
                while self.pos < len(self.text) and self.text[self.pos] in _BARE:
                    self.pos += 1
                if self.pos == start:
                    raise _StopScanError
                names.append(self.text[start : self.pos])
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return names
            self.advance()

    def value(self, path: Loc) -> None:
        char = self.peek()
        if char in ('"', "'"):
            self.string()
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        else:
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in _SCALAR_END:
                self.pos += 1
            if self.pos == start:
                raise _StopScanError

    def string(self) -> None:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            self.advance(3)
            while self.pos < len(self.text):
                if quote == '"' and self.peek() == "\\":
                    self.advance(2)
                elif self.peek(3) == quote * 3:
                    run = 3
                    while run < 5 and self.peek(run + 1) == quote * (run + 1):
                        run += 1  # up to two quotes may end the content right before the delimiter
                    self.advance(run)
                    return
                else:
                    self.advance()
            raise _StopScanError
        self.advance()
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if quote == '"' and char == "\\":
                self.pos += 2
            elif char == quote:
                self.pos += 1
                return
            elif char == "\n":
                raise _StopScanError
            else:
                self.pos += 1
        raise _StopScanError

    def array(self, path: Loc) -> None:
        self.advance()
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "]":
                self.advance()
                return
            if self.pos >= len(self.text):
                raise _StopScanError
            start = self.pos
            self.record(path + (index,))
            self.value(path + (index,))
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()
                index += 1
            elif self.pos == start:
                raise _StopScanError

    def inline_table(self, path: Loc) -> None:
        self.advance()
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "}":
                self.advance()
                return
            if self.pos >= len(self.text):
                raise _StopScanError
            sub = path + tuple(self.key())
            self.skip_blank(newlines=False)
            self.expect("=")
            self.skip_blank(newlines=False)
            self.record(sub)
            self.value(sub)
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()


def _decode_quoted(raw: str) -> str:
    """A quoted key's name, escapes and all, decoded by tomllib itself."""
    try:
        value = tomllib.loads(f"k = {raw}")["k"]
    except tomllib.TOMLDecodeError:
        raise _StopScanError from None
    return str(value)
