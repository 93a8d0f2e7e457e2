"""The OneRoster filter language: `<field><predicate>'<value>'`, or two such clauses joined by
` AND ` or ` OR `; predicates `=`, `!=`, `>`, `>=`, `<`, `<=` and `~` (contains, ignoring
case); a `'` in a value is written `''`.

A small recursive-descent parser over the text (no regular expression over SQL), then a
compiler into SQL over an allow-list of fields, every value a bound parameter. The result is
parenthesized, so that the endpoint's own scope, ANDed outside it, cannot be widened by an
`OR` (`WHERE scope AND (f1 OR f2)`, never `WHERE scope AND f1 OR f2`)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn

PREDICATES = ("!=", ">=", "<=", "=", ">", "<", "~")  # the two-character ones first
JOINERS = (" AND ", " OR ")
MOST_CLAUSES = 2
LONGEST_VALUE = 250
FieldKind = Literal["text", "instant"]


class FilterError(ValueError):
    """A filter that does not parse, or names a field the entity does not have."""


@dataclass(frozen=True)
class Clause:
    field: str
    predicate: str
    value: str


@dataclass(frozen=True)
class Filter:
    clauses: tuple[Clause, ...]
    joiner: str = "AND"  # how the clauses combine, when there are two


@dataclass(frozen=True)
class Field:
    """A filterable (and sortable) field: the SQL expression it is, over the source row `r`,
    and how its values compare: as text, or as an instant (`dateLastModified`)."""

    column: str
    kind: FieldKind = "text"


class Params:
    """Bound values, numbered as asyncpg wants them, after the `first` a statement already
    has."""

    def __init__(self, first: list[Any] | None = None) -> None:
        self.values: list[Any] = list(first or [])

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def parse(text: str) -> Filter:
    return _Parser(text).filter()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def filter(self) -> Filter:
        clauses = [self.clause()]
        joiner = "AND"
        while self.at < len(self.text):
            joined = next((j for j in JOINERS if self.text.startswith(j, self.at)), None)
            if joined is None:
                self.fail("expected ' AND ' or ' OR ' between clauses")
            if len(clauses) == MOST_CLAUSES:
                raise FilterError(f"a filter has at most {MOST_CLAUSES} clauses")
            joiner = joined.strip()
            self.at += len(joined)
            clauses.append(self.clause())
        return Filter(tuple(clauses), joiner)

    def clause(self) -> Clause:
        field = self.field()
        predicate = next((p for p in PREDICATES if self.text.startswith(p, self.at)), "")
        if not predicate:
            self.fail(f"expected a predicate ({' '.join(PREDICATES)}) after {field!r}")
        self.at += len(predicate)
        return Clause(field, predicate, self.value())

    def field(self) -> str:
        start = self.at
        if (
            self.at < len(self.text)
            and self.text[self.at].isascii()
            and self.text[self.at].isalpha()
        ):
            self.at += 1
            while self.at < len(self.text) and (
                self.text[self.at].isascii() and self.text[self.at].isalnum()
            ):
                self.at += 1
        if self.at == start:
            self.fail("expected a field name")
        return self.text[start : self.at]

    def value(self) -> str:
        if not self.text.startswith("'", self.at):
            self.fail("expected a value in single quotes")
        self.at += 1
        value: list[str] = []
        while True:
            end = self.text.find("'", self.at)
            if end < 0:
                self.fail("a value's closing quote is missing")
            value.append(self.text[self.at : end])
            if self.text.startswith("''", end):  # a quote inside the value
                value.append("'")
                self.at = end + 2
                continue
            self.at = end + 1
            break
        text = "".join(value)
        if len(text) > LONGEST_VALUE:
            raise FilterError(f"a value has at most {LONGEST_VALUE} characters")
        return text

    def fail(self, why: str) -> NoReturn:
        raise FilterError(f"{why} at character {self.at + 1}")


def compile_filter(parsed: Filter, fields: dict[str, Field], params: Params) -> str:
    """The filter as one parenthesized SQL condition over `fields`, its values in `params`."""
    conditions = [_condition(clause, fields, params) for clause in parsed.clauses]
    return "(" + f" {parsed.joiner} ".join(conditions) + ")"


def _condition(clause: Clause, fields: dict[str, Field], params: Params) -> str:
    field = fields.get(clause.field)
    if field is None:
        raise FilterError(f"{clause.field!r} is not a field this collection filters on")
    if field.kind == "instant":
        if clause.predicate == "~":
            raise FilterError(f"~ compares text; {clause.field} is a date-time")
        value: Any = _instant(clause)
        placeholder = params.add(value) + "::timestamptz"
    else:
        placeholder = params.add(clause.value) + "::text"
    column = field.column
    if clause.predicate == "~":
        return f"strpos(lower({column}), lower({placeholder})) > 0"
    if clause.predicate == "!=":
        return f"{column} IS DISTINCT FROM {placeholder}"
    return f"{column} {clause.predicate} {placeholder}"


def _instant(clause: Clause) -> datetime:
    try:
        instant = datetime.fromisoformat(clause.value.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"{clause.field} compares with an RFC 3339 date-time") from None
    if instant.tzinfo is None:
        raise FilterError(f"{clause.field} compares with a date-time that names its zone")
    return instant
