"""The junction migrations keep every row, roll back exactly what they added, and re-apply."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from yoyo import read_migrations

from service.migrations import MIGRATIONS_DIR, SCHEMA_DIR, SCHEMA_FILES, apply_migrations
from tests.support.postgres import (
    functions_defined_in,
    migrate,
    scratch_database,
    seed_first_schema,
)

FIRST = "0001.create-students-and-courses"
AFTER_FIRST = len(read_migrations(str(MIGRATIONS_DIR))) - 1

SCHEMA_SNAPSHOT = """
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type
FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '_yoyo%'
UNION ALL SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'public'
UNION ALL SELECT 'constraint ' || conname FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
ORDER BY 1
"""


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    with scratch_database(server_url, "migration_test") as url:
        yield url


# Rolling a migration back leaves what only sql/schema/ defines: the helpers the triggers
# and the service pass the change context through, which touch no table (README
# "Deploying"). Everything else a rollback takes back exactly.
LEFT_BY_ROLLBACKS = functions_defined_in(
    [SCHEMA_DIR / name for name in SCHEMA_FILES]
) - functions_defined_in(sorted(MIGRATIONS_DIR.glob("*.sql")))


def schema_snapshot(url: str) -> list[tuple[Any, ...]]:
    return [
        row
        for row in query(url, SCHEMA_SNAPSHOT)
        if row[0].removeprefix("function ") not in LEFT_BY_ROLLBACKS
    ]


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


STUDENTS = (
    "SELECT id, first_name, last_name, email, created_at, updated_at FROM students ORDER BY id"
)
COURSES = "SELECT id, code, title, capacity, created_at, updated_at FROM courses ORDER BY id"


def test_junction_migrations_keep_rows_roll_back_exactly_and_reapply(empty_database: str) -> None:
    url = empty_database
    migrate(url, up_to=FIRST)
    seed_first_schema(url)
    schema_at_first = schema_snapshot(url)
    students, courses = query(url, STUDENTS), query(url, COURSES)

    assert apply_migrations(url) == AFTER_FIRST
    assert query(url, STUDENTS) == students
    assert query(url, COURSES) == courses
    assert query(url, "SELECT DISTINCT enrolled_count FROM courses") == [(0,)]
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO student_courses (student_id, course_id) VALUES (1, 5), (2, 5)")
    assert query(url, "SELECT enrolled_count FROM courses WHERE id = 5") == [(2,)]

    migrate(url, roll_back_after=FIRST)
    assert schema_snapshot(url) == schema_at_first
    assert query(url, STUDENTS) == students
    assert query(url, COURSES) == courses

    assert apply_migrations(url) == AFTER_FIRST
    assert query(url, STUDENTS) == students
    assert query(url, "SELECT count(*) FROM student_courses") == [(0,)]
    assert apply_migrations(url) == 0


def test_enrolled_count_backfills_from_existing_rows(empty_database: str) -> None:
    url = empty_database
    migrate(url, up_to="0002.create-student-courses")
    seed_first_schema(url)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO student_courses (student_id, course_id) VALUES (1, 3), (2, 3)")
    apply_migrations(url)
    assert query(url, "SELECT enrolled_count FROM courses WHERE id = 3") == [(2,)]
    assert query(url, "SELECT sum(enrolled_count) FROM courses") == [(2,)]


def test_lifecycle_keeps_every_enrollment_as_enrolled_with_its_history(
    empty_database: str,
) -> None:
    url = empty_database
    migrate(url, up_to="0005.create-idempotency-keys")
    seed_first_schema(url)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO student_courses (student_id, course_id) VALUES (1, 3), (2, 3)")
    before = query(url, "SELECT student_id, course_id, enrolled_at FROM student_courses")

    apply_migrations(url)

    assert query(url, "SELECT student_id, course_id, enrolled_at FROM student_courses") == before
    assert query(url, "SELECT DISTINCT status FROM student_courses") == [("enrolled",)]
    events = query(
        url,
        "SELECT student_id, course_id, at, action, from_status, to_status, actor "
        "FROM enrollment_events ORDER BY student_id",
    )
    assert events == [(s, c, at, "enrolled", None, "enrolled", "migration") for s, c, at in before]

    with psycopg.connect(url) as conn:
        conn.execute("UPDATE student_courses SET status = 'dropped' WHERE student_id = 1")
    assert query(url, "SELECT enrolled_count FROM courses WHERE id = 3") == [(1,)]
    migrate(url, roll_back_after="0005.create-idempotency-keys")
    # v1 cannot show a dropped record: it goes, and the count still matches the rows.
    assert query(url, "SELECT student_id FROM student_courses") == [(2,)]
    assert query(url, "SELECT enrolled_count FROM courses WHERE id = 3") == [(1,)]


def test_change_feed_starts_with_every_existing_row_and_rolls_back(empty_database: str) -> None:
    url = empty_database
    migrate(url, up_to="0007.validate-enrollment-status")
    seed_first_schema(url)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO student_courses (student_id, course_id) VALUES (1, 3), (2, 3)")
        conn.execute("UPDATE student_courses SET status = 'dropped' WHERE student_id = 2")
    schema_before = schema_snapshot(url)

    apply_migrations(url)

    baseline = query(
        url, "SELECT position, entity, op, key::text, data::text FROM changes ORDER BY position"
    )
    assert [row[0] for row in baseline] == list(range(1, 50 + 50 + 2 + 1))
    assert query(url, "SELECT last_position FROM change_feed_state") == [(102,)]
    assert {(row[1], row[2]) for row in baseline} == {
        ("student", "upsert"),
        ("course", "upsert"),
        ("enrollment", "upsert"),
    }
    assert '"status":"dropped"' in baseline[-1][4]
    # A change after the migration gets the next position once it is sequenced.
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM student_courses WHERE student_id = 1")
        conn.execute("SELECT sequence_changes(100)")
    assert query(url, "SELECT position, entity, op FROM changes WHERE position > 102") == [
        (103, "course", "upsert"),
        (104, "enrollment", "delete"),
    ]

    migrate(url, roll_back_after="0007.validate-enrollment-status")
    assert schema_snapshot(url) == schema_before
    assert apply_migrations(url) == AFTER_FIRST - 6  # every migration after 0007


def test_waitlist_keeps_every_enrollment_and_rolls_back_its_queues(empty_database: str) -> None:
    url = empty_database
    migrate(url, up_to="0009.backfill-change-feed")
    seed_first_schema(url)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO student_courses (student_id, course_id) VALUES (1, 1), (2, 3)")
    before = query(url, "SELECT student_id, course_id, status, enrolled_at FROM student_courses")
    schema_before = schema_snapshot(url)

    apply_migrations(url)

    assert query(url, "SELECT student_id, course_id, status, enrolled_at FROM student_courses") == (
        before
    )
    assert query(url, "SELECT DISTINCT waitlist_capacity, waitlisted_count FROM courses") == [
        (0, 0)
    ]
    with psycopg.connect(url) as conn:  # course 1 has one seat, taken by student 1
        conn.execute("UPDATE courses SET waitlist_capacity = 2 WHERE id = 1")
        conn.execute(
            "INSERT INTO student_courses (student_id, course_id, status) "
            "VALUES (3, 1, 'waitlisted'), (4, 1, 'waitlisted')"
        )
        conn.execute("UPDATE student_courses SET status = 'dropped' WHERE student_id = 4")
        conn.execute("UPDATE student_courses SET status = 'dropped' WHERE student_id = 1")
    assert query(
        url,
        "SELECT student_id, status FROM student_courses WHERE course_id = 1 ORDER BY student_id",
    ) == [(1, "dropped"), (3, "enrolled"), (4, "dropped")]

    migrate(url, roll_back_after="0009.backfill-change-feed")
    assert schema_snapshot(url) == schema_before
    # The pair that left the waitlist gets an enrolled_at again, as the column needs one.
    assert query(url, "SELECT count(*) FROM student_courses WHERE enrolled_at IS NULL") == [(0,)]
    assert apply_migrations(url) == AFTER_FIRST - 8  # every migration after 0009


# Multi-row statements of every kind: waitlistings, drops that promote, a raised capacity, a
# re-enrollment, a student's deletion (a cascade), a course's pairs deleted at once.
BOOKKEEPING_WORKLOAD = [
    "UPDATE courses SET capacity = 2, waitlist_capacity = 3 WHERE id IN (1, 2)",
    "INSERT INTO student_courses (student_id, course_id, status) VALUES "
    "(1, 1, 'enrolled'), (2, 1, 'enrolled'), (3, 1, 'waitlisted'), (4, 1, 'waitlisted'), "
    "(1, 2, 'enrolled'), (5, 2, 'enrolled'), (6, 2, 'waitlisted'), (7, 3, 'enrolled')",
    "UPDATE student_courses SET status = 'dropped' WHERE student_id IN (1, 2) AND course_id = 1",
    "UPDATE courses SET capacity = 3 WHERE id = 2",
    "UPDATE student_courses SET status = 'completed' WHERE course_id = 3",
    "INSERT INTO student_courses (student_id, course_id, status) VALUES (1, 1, 'waitlisted') "
    "ON CONFLICT (student_id, course_id) DO UPDATE SET status = excluded.status",
    "DELETE FROM students WHERE id = 3",
    "DELETE FROM student_courses WHERE course_id = 2",
    "DELETE FROM courses WHERE id = 2",
]
BOOKED = {
    "counts": "SELECT id, enrolled_count, waitlisted_count FROM courses ORDER BY id",
    "pairs": "SELECT student_id, course_id, status, waitlist_ticket IS NOT NULL "
    "FROM student_courses ORDER BY 1, 2",
    "history": "SELECT student_id, course_id, action, from_status, to_status, reason "
    "FROM enrollment_events ORDER BY student_id, course_id, id",
    # Each key's changes in order, times left out (the two databases run at other instants).
    "feed": "SELECT entity, key::text, op, (data::jsonb - 'created_at' - 'updated_at' "
    "- 'enrolled_at' - 'status_changed_at')::text FROM changes ORDER BY key::text, id",
}


def test_bookkeeping_per_statement_writes_what_the_row_triggers_wrote(server_url: str) -> None:
    """0013 moves counts, promotions, feed and history from row to statement triggers. The
    feed's course changes are the only difference: one per statement that changed the
    course's counts, not one per row; the states between them are within one transaction,
    where no reader sees them, and each course's last change is the same."""
    booked = []
    for last in ("0012.validate-waitlist-capacity", "0013.book-enrollments-per-statement"):
        with scratch_database(server_url, "migration_test") as url:
            migrate(url, up_to=last)
            seed_first_schema(url)
            with psycopg.connect(url) as conn:
                for statement in BOOKKEEPING_WORKLOAD:
                    conn.execute(statement)
            booked.append({name: query(url, sql) for name, sql in BOOKED.items()})
    per_row, per_statement = booked
    for name in ("counts", "pairs", "history"):
        assert per_statement[name] == per_row[name], name
    assert "promoted" in {action for _, _, action, *_ in per_row["history"]}

    def by_key(feed: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
        changes: dict[str, list[tuple[Any, ...]]] = {}
        for entity, key, op, data in feed:
            changes.setdefault(f"{entity} {key}", []).append((op, data))
        return changes

    rows_feed, statements_feed = by_key(per_row["feed"]), by_key(per_statement["feed"])
    assert statements_feed.keys() == rows_feed.keys()
    for key, changes in statements_feed.items():
        if key.startswith("course"):
            assert changes[-1] == rows_feed[key][-1], key
        else:
            assert changes == rows_feed[key], key
    assert sum(map(len, statements_feed.values())) < sum(map(len, rows_feed.values()))


def test_bookkeeping_rolls_back_to_row_triggers(empty_database: str) -> None:
    url = empty_database
    migrate(url, up_to="0012.validate-waitlist-capacity")
    schema_before = schema_snapshot(url)
    apply_migrations(url)
    assert schema_snapshot(url) != schema_before
    migrate(url, roll_back_after="0012.validate-waitlist-capacity")
    assert schema_snapshot(url) == schema_before
    seed_first_schema(url)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO student_courses (student_id, course_id) VALUES (1, 5), (2, 5)")
    assert query(url, "SELECT enrolled_count FROM courses WHERE id = 5") == [(2,)]
