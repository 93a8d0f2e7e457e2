"""sql/schema/ holds the current functions and triggers: a database migrated from empty and
one upgraded from an older release with data end with the same definitions in the catalog;
applying again changes nothing; the triggers fire in the order triggers.sql states."""

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from service.migrations import SCHEMA_DIR, SCHEMA_FILES, apply_migrations
from tests.support.postgres import (
    functions_defined_in,
    migrate,
    scratch_database,
    seed_first_schema,
)

OLDER_RELEASE = "0009.backfill-change-feed"  # before the waitlist and the statement triggers

# Everything a migration or sql/schema/ defines, in full, in a stable order.
CATALOG = {
    "columns": """
        SELECT table_name, column_name, data_type, column_default, is_nullable
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name NOT LIKE '%yoyo%'
        ORDER BY table_name, column_name""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "indexes": """
        SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename NOT LIKE '%yoyo%' ORDER BY 1""",
    "functions": """
        SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
        FROM pg_proc AS p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1""",
    # In the order Postgres fires them, for each table: BEFORE before AFTER, row-level before
    # statement-level, then by name.
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
        FROM pg_trigger WHERE NOT tgisinternal
        ORDER BY tgrelid::regclass::text, (tgtype & 2) = 0, (tgtype & 1) = 0, tgname""",
}


def catalog(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in CATALOG.items()}


def seed_older_release(url: str) -> None:
    """Students, courses, enrollments and a drop, with their history and feed, as release
    0009 wrote them."""
    seed_first_schema(url)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO student_courses (student_id, course_id)"
            " SELECT s, c FROM generate_series(1, 20) AS s, generate_series(1, 20) AS c"
            " WHERE c >= s"
        )
        conn.execute("UPDATE student_courses SET status = 'dropped' WHERE student_id = 1")


@pytest.fixture
def fresh(server_url: str) -> Iterator[str]:
    with scratch_database(server_url, "schema_fresh") as url:
        apply_migrations(url)
        yield url


def test_a_fresh_database_and_one_upgraded_with_data_define_the_same(
    fresh: str, server_url: str
) -> None:
    with scratch_database(server_url, "schema_upgraded") as upgraded:
        migrate(upgraded, up_to=OLDER_RELEASE)
        seed_older_release(upgraded)
        apply_migrations(upgraded)
        assert catalog(upgraded) == catalog(fresh)


def test_applying_again_changes_nothing_until_the_folder_changes(fresh: str) -> None:
    # xmin: the transaction that last wrote each catalog row; any re-creation moves it.
    versions = """
        SELECT (SELECT array_agg(xmin::text ORDER BY oid) FROM pg_proc
                WHERE pronamespace = 'public'::regnamespace),
               (SELECT array_agg(xmin::text ORDER BY oid) FROM pg_trigger WHERE NOT tgisinternal),
               (SELECT applied_at FROM schema_state)"""
    with psycopg.connect(fresh, autocommit=True) as conn:
        before = conn.execute(versions).fetchone()
        assert apply_migrations(fresh) == 0
        assert conn.execute(versions).fetchone() == before

        conn.execute("UPDATE schema_state SET checksum = 'an older folder'")
        assert apply_migrations(fresh) == 0
        after = conn.execute(versions).fetchone()
    assert after is not None
    assert before is not None
    assert after[0] != before[0]
    assert after[1] != before[1]
    assert after[2] > before[2]


def written_triggers() -> list[tuple[str, str]]:
    """(table, trigger) for every trigger triggers.sql creates, in its order."""
    text = (SCHEMA_DIR / "triggers.sql").read_text()
    found = re.findall(
        r"^CREATE OR REPLACE TRIGGER (\w+)$.*?\bON (\w+)$", text, re.DOTALL | re.MULTILINE
    )
    return [(table, name) for name, table in found]


def test_the_triggers_fire_in_the_order_triggers_sql_states(fresh: str) -> None:
    with psycopg.connect(fresh) as conn:
        firing = conn.execute(CATALOG["triggers"]).fetchall()
    by_table: dict[str, list[str]] = {}
    for table, name in written_triggers():
        by_table.setdefault(table, []).append(name)
    assert [(table, name) for table, name, _ in firing] == [
        (table, name) for table in sorted(by_table) for name in by_table[table]
    ]
    assert ("courses", "courses_feed") in written_triggers()  # the parse found them


def test_every_function_in_the_database_is_defined_in_sql_schema(fresh: str) -> None:
    defined = functions_defined_in([SCHEMA_DIR / name for name in SCHEMA_FILES])
    with psycopg.connect(fresh) as conn:
        present = conn.execute(
            "SELECT DISTINCT proname::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        ).fetchall()
    assert {name for (name,) in present} == defined
