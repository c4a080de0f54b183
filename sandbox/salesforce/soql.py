"""A SOQL subset: enough for connectors, strict enough to fail like Salesforce does.

Supported: ``SELECT f1, f2, Rel.Field, (SELECT g1, ... FROM ChildRelationship [WHERE cond]
[ORDER BY ...] [LIMIT n]) | COUNT() FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC]
[NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]``; a parenthesised subquery reads a parent's
child rows through the relationship's plural name (one level deep in the sandbox). Conditions:
``= != <> < <= > >= LIKE IN NOT IN`` joined by AND / OR / NOT with parentheses (mixing AND and
OR needs parentheses, as in Salesforce). Literals: 'quoted strings' (backslash escapes),
numbers, true/false, null, date (``2024-01-01``) and dateTime (``2024-01-01T00:00:00Z``,
``.000+0000``, ``+00:00``) literals, unquoted as Salesforce requires. Anything else is a
``MALFORMED_QUERY``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Condition",
    "Logical",
    "OrderItem",
    "Query",
    "SoqlError",
    "parse_datetime_ms",
    "parse_soql",
]


class SoqlError(Exception):
    """A query Salesforce would refuse; `code` is its errorCode."""

    def __init__(self, message: str, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Literal:
    kind: str  # string | number | boolean | null | date | datetime
    value: Any


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # = != < <= > >= LIKE IN NOT IN
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class Logical:
    op: str  # AND | OR | NOT
    parts: tuple[Condition | Logical, ...]


@dataclass(frozen=True)
class OrderItem:
    field: str
    descending: bool = False
    nulls_last: bool | None = None


@dataclass
class Query:
    """A parsed statement; a parent-to-child subquery is a `Query` in `fields` whose `sobject`
    is the child relationship's name (``OpportunityContactRoles``), not an sObject's."""

    fields: list[str | Query]
    sobject: str
    where: Condition | Logical | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    count_only: bool = False


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
    |(?P<number>-?\d+(?:\.\d+)?)(?![\w.])
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),])
    |(?P<word>[A-Za-z_][\w.]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {
    "SELECT", "FROM", "WHERE", "ORDER", "BY", "LIMIT", "OFFSET", "AND", "OR", "NOT", "IN",
    "LIKE", "ASC", "DESC", "NULLS", "FIRST", "LAST", "NULL", "TRUE", "FALSE", "COUNT",
}  # fmt: skip
_UNSUPPORTED = {"GROUP", "HAVING", "WITH", "FOR", "USING", "TYPEOF", "INCLUDES", "EXCLUDES"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            snippet = text[pos : pos + 20].strip()
            raise SoqlError(f"unexpected token: '{snippet.split()[0] if snippet else snippet}'")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "word" and value.upper() in _KEYWORDS:
            out.append(("kw", value.upper()))
        else:
            out.append((kind, value))
        pos = match.end()
    return out


def parse_datetime_ms(text: str) -> int:
    """A SOQL / Salesforce dateTime (Z, +0000 or +00:00 offsets) as ms epoch."""
    norm = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", norm):
        norm = norm[:-2] + ":" + norm[-2:]
    moment = datetime.fromisoformat(norm)
    return int(moment.astimezone(UTC).timestamp() * 1000)


def _unescape(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), body)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise SoqlError("unexpected end of query")
        self.i += 1
        return tok

    def at_kw(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "kw" and tok[1] in words

    def expect_kw(self, word: str) -> None:
        tok = self.next()
        if tok != ("kw", word):
            raise SoqlError(f"unexpected token: '{tok[1]}'")

    def expect_punct(self, char: str) -> None:
        tok = self.next()
        if tok != ("punct", char):
            raise SoqlError(f"unexpected token: '{tok[1]}'")

    def field_name(self) -> str:
        tok = self.next()
        if tok[0] != "word":
            raise SoqlError(f"unexpected token: '{tok[1]}'")
        if tok[1].upper() in _UNSUPPORTED:
            raise SoqlError(f"unexpected token: '{tok[1]}' (not supported by the sandbox)")
        return tok[1]

    def literal(self) -> Literal:
        kind, text = self.next()
        if kind == "string":
            return Literal("string", _unescape(text))
        if kind == "number":
            return Literal("number", float(text) if "." in text else int(text))
        if kind == "date":
            return Literal("date", text)
        if kind == "datetime":
            return Literal("datetime", parse_datetime_ms(text))
        if kind == "kw" and text in ("TRUE", "FALSE"):
            return Literal("boolean", text == "TRUE")
        if kind == "kw" and text == "NULL":
            return Literal("null", None)
        raise SoqlError(f"unexpected token: '{text}'")

    def condition(self) -> Condition | Logical:
        if self.at_kw("NOT"):
            self.next()
            return Logical("NOT", (self.factor(),))
        name = self.field_name()
        tok = self.next()
        if tok[0] == "op":
            op = "!=" if tok[1] == "<>" else tok[1]
            return Condition(name, op, self.literal())
        if tok == ("kw", "LIKE"):
            lit = self.literal()
            if lit.kind != "string":
                raise SoqlError("LIKE operator only valid on string literals")
            return Condition(name, "LIKE", lit)
        negate = False
        if tok == ("kw", "NOT"):
            negate = True
            tok = self.next()
        if tok == ("kw", "IN"):
            self.expect_punct("(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.next()
                values.append(self.literal())
            self.expect_punct(")")
            return Condition(name, "NOT IN" if negate else "IN", tuple(values))
        raise SoqlError(f"unexpected token: '{tok[1]}'")

    def factor(self) -> Condition | Logical:
        if self.peek() == ("punct", "("):
            self.next()
            inner = self.expr()
            self.expect_punct(")")
            return inner
        return self.condition()

    def expr(self) -> Condition | Logical:
        parts = [self.factor()]
        joiner: str | None = None
        while self.at_kw("AND", "OR"):
            word = self.next()[1]
            if joiner is not None and word != joiner:
                raise SoqlError(
                    f"unexpected token: '{word}' (use parentheses when mixing AND and OR)"
                )
            joiner = word
            parts.append(self.factor())
        if joiner is None:
            return parts[0]
        return Logical(joiner, tuple(parts))

    def integer(self) -> int:
        kind, text = self.next()
        if kind != "number" or not text.isdigit():
            raise SoqlError(f"unexpected token: '{text}'")
        return int(text)

    def select_item(self, *, nested: bool) -> str | Query:
        if self.peek() != ("punct", "("):
            return self.field_name()
        if nested:
            raise SoqlError(
                "unexpected token: '(' (nested subqueries are not supported by the sandbox)"
            )
        self.next()
        inner = self.query(nested=True)
        self.expect_punct(")")
        return inner

    def query(self, *, nested: bool = False) -> Query:
        self.expect_kw("SELECT")
        fields: list[str | Query] = []
        count_only = False
        if self.at_kw("COUNT"):
            if nested:
                raise SoqlError("unexpected token: 'COUNT' (not valid in a subquery)")
            self.next()
            self.expect_punct("(")
            self.expect_punct(")")
            count_only = True
        else:
            fields.append(self.select_item(nested=nested))
            while self.peek() == ("punct", ","):
                self.next()
                fields.append(self.select_item(nested=nested))
        self.expect_kw("FROM")
        sobject = self.field_name()
        query = Query(fields, sobject, count_only=count_only)
        if self.at_kw("WHERE"):
            self.next()
            query.where = self.expr()
        if self.at_kw("ORDER"):
            self.next()
            self.expect_kw("BY")
            while True:
                item = OrderItem(self.field_name())
                if self.at_kw("ASC", "DESC"):
                    item = OrderItem(item.field, self.next()[1] == "DESC")
                if self.at_kw("NULLS"):
                    self.next()
                    which = self.next()
                    if which not in (("kw", "FIRST"), ("kw", "LAST")):
                        raise SoqlError(f"unexpected token: '{which[1]}'")
                    item = OrderItem(item.field, item.descending, which[1] == "LAST")
                query.order.append(item)
                if self.peek() != ("punct", ","):
                    break
                self.next()
        if self.at_kw("LIMIT"):
            self.next()
            query.limit = self.integer()
        if self.at_kw("OFFSET"):
            if nested:
                raise SoqlError(
                    "unexpected token: 'OFFSET' (not supported in a subquery by the sandbox)"
                )
            self.next()
            query.offset = self.integer()
            if query.offset > 2000:
                raise SoqlError("Maximum SOQL offset allowed is 2000", "NUMBER_OUTSIDE_VALID_RANGE")
        tok = self.peek()
        if tok is not None and not (nested and tok == ("punct", ")")):
            raise SoqlError(f"unexpected token: '{tok[1]}'")
        return query


def parse_soql(text: str) -> Query:
    """Parse a SOQL statement into a :class:`Query` or raise :class:`SoqlError`."""
    if not text or not text.strip():
        raise SoqlError("The query string must not be empty", "MALFORMED_QUERY")
    return _Parser(_tokens(text)).query()
