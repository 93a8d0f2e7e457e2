"""Named SQL statements from `sql/<entity>.sql`, bound by keyword.

Each statement sits under a `-- name: verb-entity` line and uses `:name` parameters, so it
pastes into psql (with `\\set`) unchanged. Loading turns `:name` into asyncpg's `$n` once;
calls then bind values by keyword. Ours rather than aiosql: it is this file, and asyncpg's
own `fetch`/`fetchrow`/`execute` stay visible at every call site. Every statement passes
here, so here each gets its span when spans are exported (plumbing/tracing.py): the asyncpg
instrumentation package traces prepared statements and cursors badly.
"""

import re
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from service.config import PROJECT_ROOT
from service.plumbing import tracing

SQL_DIR = PROJECT_ROOT / "sql"
# What statements run on: a pooled connection, or a plain one in tests and tools.
Connection = asyncpg.Connection | PoolConnectionProxy
_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z0-9-]+)\s*$", re.MULTILINE)
# `:name` but not the `::type` cast and not inside a word (`24:MI` in a format string).
_PARAMETER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class Query:
    """One named statement, its text rewritten for asyncpg and its parameters in order."""

    name: str
    text: str
    parameters: tuple[str, ...]

    def bind(self, values: dict[str, Any]) -> list[Any]:
        """The positional arguments asyncpg wants, from keyword values."""
        return [values[name] for name in self.parameters]

    async def fetch(self, conn: Connection, **values: Any) -> list[asyncpg.Record]:
        with tracing.statement(self.name):
            return await conn.fetch(self.text, *self.bind(values))

    async def fetchrow(self, conn: Connection, **values: Any) -> asyncpg.Record | None:
        with tracing.statement(self.name):
            return await conn.fetchrow(self.text, *self.bind(values))

    async def fetchval(self, conn: Connection, **values: Any) -> Any:
        with tracing.statement(self.name):
            return await conn.fetchval(self.text, *self.bind(values))

    async def execute(self, conn: Connection, **values: Any) -> str:
        with tracing.statement(self.name):
            return await conn.execute(self.text, *self.bind(values))


def parse_query(name: str, sql: str) -> Query:
    """Rewrite `:name` parameters as `$1..$n`, the same name always taking the same number."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in order:
            order.append(match[1])
        return f"${order.index(match[1]) + 1}"

    return Query(name=name, text=_PARAMETER.sub(number, sql).strip(), parameters=tuple(order))


def parse_queries(source: str) -> dict[str, Query]:
    """Every `-- name:` block of one file, by name."""
    parts = _NAME_LINE.split(source)
    # split() gives [preamble, name1, body1, name2, body2, ...]
    return {
        name: parse_query(name, body) for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def load_queries(entity: str) -> dict[str, Query]:
    """The statements of `sql/<entity>.sql`; called once per module at import."""
    return parse_queries((SQL_DIR / f"{entity}.sql").read_text(encoding="utf-8"))
