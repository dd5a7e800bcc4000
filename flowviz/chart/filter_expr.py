"""Find/hide expressions over a window's nodes (`errors > 1% AND p95 > 500ms`, `name ~ pay`, `idle`), Qt-free.

Grammar (keywords in any case): `expr := and ("OR" and)*`, `and := not ("AND" not)*`,
`not := "NOT" not | "(" expr ")" | atom`. An atom is a state word (`healthy`, `degraded`,
`failing`, `idle`, `problems`: degraded or failing) or `FIELD OP VALUE`:

| field | value | ops |
|---|---|---|
| `errors` | a failure ratio, `1%` or `0.01` | `> >= < <= = !=` |
| `p50`, `p95`, `p99` | a latency, `500ms`, `2s`, `500` (ms) | same |
| `rate` | calls per second, `0.1/s`, `6/min`, `2` (/s) | same |
| `kind` | `service`, `database`, `topic`, `external`, `user` | `=`, `!=` |
| `name` | text; `~` contains, `!~` does not, `=` exact (case-insensitive) | `= != ~ !~` |
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

import numpy as np

from flowviz.chart.chart_frame import Health
from flowviz.model.graph_kinds import NodeKind

FIELDS = ("errors", "p50", "p95", "p99", "rate", "kind", "name")
STATES = ("healthy", "degraded", "failing", "idle", "problems")
KEYWORDS = ("AND", "OR", "NOT")
# what a completer offers while typing
COMPLETIONS = (*STATES, *(f"{f} " for f in FIELDS), *KEYWORDS, *(f"kind = {k.label}" for k in NodeKind))

_TOKEN = re.compile(r"\s*(?:(\()|(\))|(>=|<=|!=|!~|>|<|=|~)|(&&|\|\|)|(\"[^\"]*\"|'[^']*'|[^\s()<>=!~&|]+))")
_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq}
_NUMBER_UNIT = re.compile(r"^([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(%|ms|s|m|min|/s|/m|/min|/h)?$", re.IGNORECASE)


class FilterError(ValueError):
    """An expression that does not parse; the message says where and why."""


@dataclass(frozen=True, slots=True)
class NodeFigures:
    """The per-node figures an expression reads (all arrays aligned with `names`)."""

    names: tuple[str, ...]
    kind: np.ndarray
    rate_per_s: np.ndarray
    error_ratio: np.ndarray
    p50_ms: np.ndarray
    p95_ms: np.ndarray
    p99_ms: np.ndarray
    health: np.ndarray


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(f"cannot read {text[position:]!r} (at character {position + 1})")
        tokens.append(next(group for group in match.groups() if group is not None))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


def _number(text: str, field: str) -> float:
    match = _NUMBER_UNIT.match(text.strip())
    if match is None:
        raise FilterError(f"{field}: {text!r} is not a number (e.g. 1%, 500ms, 0.1/s)")
    value, unit = float(match.group(1)), (match.group(2) or "").lower()
    if field == "errors":
        return value / 100 if unit == "%" else value
    if field == "rate":
        return value / {"/m": 60, "/min": 60, "/h": 3600}.get(unit, 1)
    return value * {"s": 1000.0, "m": 60_000.0, "min": 60_000.0}.get(unit, 1.0)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise FilterError("the expression ends too early")
        self.at += 1
        return token

    def expression(self):
        terms = [self.conjunction()]
        while (self.peek() or "").upper() in ("OR", "||"):
            self.take()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else ("or", terms)

    def conjunction(self):
        terms = [self.negation()]
        while (self.peek() or "").upper() in ("AND", "&&"):
            self.take()
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else ("and", terms)

    def negation(self):
        token = self.take()
        if token.upper() == "NOT":
            return ("not", self.negation())
        if token == "(":
            inner = self.expression()
            if self.peek() != ")":
                raise FilterError("a ( is not closed")
            self.take()
            return inner
        word = token.lower()
        if word in STATES:
            return ("state", word)
        if word not in FIELDS:
            raise FilterError(f"unknown word {token!r}; try one of {', '.join(FIELDS + STATES)}")
        op = self.take()
        if op not in ("<", "<=", ">", ">=", "=", "!=", "~", "!~"):
            raise FilterError(f"{word}: expected a comparison (> < = ~ …) but found {op!r}")
        value = self.take().strip("\"'")
        if word == "name":
            if op not in ("=", "!=", "~", "!~"):
                raise FilterError("name: use = != ~ (contains) or !~")
            return ("name", op, value.lower())
        if word == "kind":
            if op not in ("=", "!="):
                raise FilterError("kind: use = or !=")
            kinds = {k.label: int(k) for k in NodeKind}
            if value.lower() not in kinds:
                raise FilterError(f"kind: {value!r} is none of {', '.join(kinds)}")
            return ("kind", op, kinds[value.lower()])
        if op in ("~", "!~"):
            raise FilterError(f"{word}: ~ compares names only")
        return ("number", word, op, _number(value, word))


def parse_filter(text: str):
    """The parsed form of an expression (FilterError when it does not parse)."""
    parser = _Parser(text)
    if not parser.tokens:
        raise FilterError("the expression is empty")
    tree = parser.expression()
    if parser.peek() is not None:
        raise FilterError(f"unexpected {parser.peek()!r} after a complete expression (missing AND/OR?)")
    return tree


def evaluate(tree, figures: NodeFigures) -> np.ndarray:
    """Per node, whether it matches the parsed expression."""
    tag = tree[0]
    count = len(figures.names)
    if tag in ("and", "or"):
        parts = [evaluate(part, figures) for part in tree[1]]
        return np.logical_and.reduce(parts) if tag == "and" else np.logical_or.reduce(parts)
    if tag == "not":
        return ~evaluate(tree[1], figures)
    if tag == "state":
        health = figures.health
        return {
            "healthy": health == Health.HEALTHY,
            "degraded": health == Health.DEGRADED,
            "failing": health == Health.FAILING,
            "idle": health == Health.IDLE,
            "problems": health >= Health.DEGRADED,
        }[tree[1]]
    if tag == "name":
        _, op, value = tree
        lower = [name.lower() for name in figures.names]
        hit = np.fromiter((value in n if op in ("~", "!~") else value == n for n in lower), bool, count)
        return ~hit if op.startswith("!") else hit
    if tag == "kind":
        _, op, kind = tree
        hit = figures.kind == kind
        return ~hit if op == "!=" else hit
    _, field, op, value = tree
    column = {
        "errors": figures.error_ratio,
        "rate": figures.rate_per_s,
        "p50": figures.p50_ms,
        "p95": figures.p95_ms,
        "p99": figures.p99_ms,
    }[field]
    column = np.asarray(column, np.float64)
    known = ~np.isnan(column)
    if op == "!=":
        return known & (column != value)
    return known & _COMPARE[op](np.where(known, column, 0.0), value)


@dataclass(frozen=True, slots=True)
class NodeFilter:
    """A parsed expression and what it does: keep only the matching nodes, or (`hide`) hide them."""

    text: str
    tree: tuple
    hide: bool = False

    @classmethod
    def parse(cls, text: str) -> NodeFilter:
        """`EXPR` shows only what matches; `hide EXPR` hides what matches (FilterError when malformed)."""
        stripped = text.strip()
        hide = stripped.lower().startswith("hide ")
        body = stripped[5:] if hide else (stripped[5:] if stripped.lower().startswith("show ") else stripped)
        return cls(text, parse_filter(body), hide)

    def keep(self, figures: NodeFigures) -> np.ndarray:
        """Per node, whether it stays in the picture."""
        hit = evaluate(self.tree, figures)
        return ~hit if self.hide else hit
