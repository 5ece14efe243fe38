"""The part of Google's filter languages the GCP fakes evaluate, shared by the Logging and Monitoring fakes.

Logging query language (https://cloud.google.com/logging/docs/view/logging-query-language): comparisons
`field = "v"`, `!=`, `=~ "RE2"` (regular expression, a search), `!~`, `:` ("has": substring, case-insensitive),
`<`, `<=`, `>`, `>=`; boolean `AND`, `OR`, `NOT` and parentheses; a path segment may be quoted
(`labels."goog-managed-by"`). A comparison on a field the entry does not have is false. `severity` compares
by level, not by its name's spelling (`severity>=ERROR` is ERROR, CRITICAL, ALERT, EMERGENCY; an entry
without one is DEFAULT): https://cloud.google.com/logging/docs/view/logging-query-language#severity and
https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#logseverity.
Monitoring filters (https://cloud.google.com/monitoring/api/v3/filters): the same comparisons and booleans, plus
`field = monitoring.regex.full_match("RE2")`.

Evaluation is delegated to a `resolve(path) -> value | None` the fake supplies (an entry, a time series).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(=~|!~|!=|>=|<=|=|:|>|<)|([()])|([A-Za-z0-9_\-]+)|(\.))')


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class Cmp:
    path: tuple[str, ...]
    op: str
    value: Any  # str | float | ("full_match", str)


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR | NOT
    args: tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"unparseable filter near {text[pos:pos + 30]!r}")
        pos = m.end()
        string, op, paren, word, dot = m.groups()
        if string is not None:
            out.append(("str", string[1:-1].replace('\\"', '"')))
        elif op:
            out.append(("op", op))
        elif paren:
            out.append(("paren", paren))
        elif word:
            out.append(("word", word))
        elif dot:
            out.append(("dot", "."))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FilterError("filter ends too early")
        self.i += 1
        return tok

    def parse(self) -> Any:
        node = self.or_()
        if self.peek() is not None:
            raise FilterError(f"unexpected {self.peek()}")
        return node

    def or_(self) -> Any:
        args = [self.and_()]
        while self.peek() == ("word", "OR"):
            self.take()
            args.append(self.and_())
        return args[0] if len(args) == 1 else BoolOp("OR", tuple(args))

    def and_(self) -> Any:
        args = [self.not_()]
        while self.peek() == ("word", "AND"):
            self.take()
            args.append(self.not_())
        return args[0] if len(args) == 1 else BoolOp("AND", tuple(args))

    def not_(self) -> Any:
        if self.peek() == ("word", "NOT"):
            self.take()
            return BoolOp("NOT", (self.not_(),))
        if self.peek() == ("paren", "("):
            self.take()
            node = self.or_()
            if self.take() != ("paren", ")"):
                raise FilterError("missing )")
            return node
        return self.comparison()

    def path(self) -> tuple[str, ...]:
        parts = []
        kind, text = self.take()
        if kind not in ("word", "str"):
            raise FilterError(f"expected a field, got {text!r}")
        parts.append(text)
        while self.peek() == ("dot", "."):
            self.take()
            kind, text = self.take()
            if kind not in ("word", "str"):
                raise FilterError(f"expected a field segment, got {text!r}")
            parts.append(text)
        return tuple(parts)

    def comparison(self) -> Cmp:
        path = self.path()
        kind, op = self.take()
        if kind != "op":
            raise FilterError(f"expected an operator after {'.'.join(path)}")
        kind, text = self.take()
        if kind == "str":
            return Cmp(path, op, text)
        if kind == "word":
            fn = [text]
            while self.peek() == ("dot", "."):
                self.take()
                fn.append(self.take()[1])
            if self.peek() == ("paren", "("):
                self.take()
                kind, arg = self.take()
                if self.take() != ("paren", ")") or kind != "str":
                    raise FilterError("bad function call")
                if ".".join(fn) != "monitoring.regex.full_match":
                    raise FilterError(f"unknown function {'.'.join(fn)}")
                return Cmp(path, op, ("full_match", arg))
            try:
                return Cmp(path, op, float(".".join(fn)))
            except ValueError:
                return Cmp(path, op, ".".join(fn))
        raise FilterError(f"expected a value after {op}")


def parse(text: str) -> Any:
    return _Parser(text).parse()


def _compare(have: Any, op: str, want: Any) -> bool:
    if isinstance(want, tuple):  # monitoring.regex.full_match
        return op == "=" and isinstance(have, str) and re.fullmatch(want[1], have) is not None
    if op == ":":
        return str(want).lower() in str(have).lower()
    if op in ("=~", "!~"):
        found = re.search(str(want), str(have)) is not None
        return found if op == "=~" else not found
    if isinstance(have, datetime):
        want = datetime.fromisoformat(str(want).replace("Z", "+00:00"))
    elif isinstance(have, (int, float)) and not isinstance(have, bool):
        try:
            want = float(want)
        except (TypeError, ValueError):
            return False
    elif not isinstance(want, str):
        want = str(want).removesuffix(".0")
    return {
        "=": have == want, "!=": have != want, ">": have > want, ">=": have >= want,
        "<": have < want, "<=": have <= want,
    }[op]


SEVERITY_LEVELS = {"DEFAULT": 0, "DEBUG": 100, "INFO": 200, "NOTICE": 300, "WARNING": 400, "ERROR": 500,
                   "CRITICAL": 600, "ALERT": 700, "EMERGENCY": 800}


def evaluate(node: Any, resolve: Callable[[tuple[str, ...]], Any]) -> bool:
    if isinstance(node, BoolOp):
        if node.op == "AND":
            return all(evaluate(a, resolve) for a in node.args)
        if node.op == "OR":
            return any(evaluate(a, resolve) for a in node.args)
        return not evaluate(node.args[0], resolve)
    if node.path == ("severity",) and node.op in ("=", "!=", "<", "<=", ">", ">="):
        have_level = SEVERITY_LEVELS.get(str(resolve(node.path) or "DEFAULT").upper(), 0)
        want = str(node.value).upper()
        want_level = SEVERITY_LEVELS[want] if want in SEVERITY_LEVELS else int(float(node.value))
        return _compare(have_level, node.op, want_level)
    have = resolve(node.path)
    if have is None:
        return False
    return _compare(have, node.op, node.value)


def comparisons(node: Any) -> list[Cmp]:
    if isinstance(node, BoolOp):
        return [c for a in node.args for c in comparisons(a)]
    return [node]
