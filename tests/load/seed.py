"""A realistic dataset, made by Postgres itself in a few statements: students, courses with
room to spare, enrollments spread over them, and a few small 'rush' courses left empty."""

from dataclasses import dataclass

import psycopg
from psycopg import sql

RUSH_COURSES = 20
RUSH_CAPACITY = 25
RUSH_WAITLIST = 100  # places on each waitlist rush course, beside its RUSH_CAPACITY seats
PLENTY_CAPACITY = 100_000  # seats on each course of the rush with plenty of seats


@dataclass(frozen=True)
class Dataset:
    students: int
    courses: int
    enrollments: int
    rush_course_ids: list[int]
    waitlist_course_ids: list[int]  # as the rush's, with a waitlist
    plenty_course_ids: list[int]  # as many, with plenty of seats: a rush of 201s

    @property
    def every_rush_course_id(self) -> list[int]:
        return self.rush_course_ids + self.plenty_course_ids + self.waitlist_course_ids

    min_student_id: int
    max_student_id: int
    min_course_id: int
    max_course_id: int


def seed(url: str, *, students: int, courses: int, enrollments: int) -> Dataset:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO students (first_name, last_name, email)"
            " SELECT 'First' || i, 'Last' || i, 'student' || i || '@example.edu'"
            " FROM generate_series(1, %s) AS i",
            (students,),
        )
        conn.execute(
            "INSERT INTO courses (code, title, capacity)"
            " SELECT 'C' || i, 'Course ' || i, NULL FROM generate_series(1, %s) AS i",
            (courses,),
        )
        low_s, high_s = conn.execute("SELECT min(id), max(id) FROM students").fetchone()  # type: ignore[misc]
        low_c, high_c = conn.execute("SELECT min(id), max(id) FROM courses").fetchone()  # type: ignore[misc]
        # Each enrollment pairs the i-th student (cycling) with a course a stride apart, so
        # pairs never repeat while enrollments < students * courses. The counting trigger is
        # off for the bulk insert (millions of updates to a few hundred rows would take many
        # minutes) and the counts are set once afterwards, as migration 0003 does; so is the
        # history trigger, whose events are written afterwards in one go, as 0006 does.
        conn.execute("ALTER TABLE student_courses DISABLE TRIGGER USER")
        conn.execute(
            "INSERT INTO student_courses (student_id, course_id)"
            " SELECT %(low_s)s + (i %% %(students)s),"
            " %(low_c)s + ((i + i / %(students)s) %% %(courses)s)"
            " FROM generate_series(0, %(n)s - 1) AS i ON CONFLICT DO NOTHING",
            {
                "low_s": low_s,
                "low_c": low_c,
                "students": students,
                "courses": courses,
                "n": enrollments,
            },
        )
        conn.execute("ALTER TABLE student_courses ENABLE TRIGGER USER")
        conn.execute(
            "INSERT INTO enrollment_events (student_id, course_id, at, action, to_status, actor)"
            " SELECT student_id, course_id, enrolled_at, 'enrolled', 'enrolled', 'seed'"
            " FROM student_courses"
        )
        conn.execute(
            "UPDATE courses SET enrolled_count = counted.n"
            " FROM (SELECT course_id, count(*) AS n FROM student_courses GROUP BY course_id)"
            " AS counted WHERE courses.id = counted.course_id"
        )
        rush = conn.execute(
            "INSERT INTO courses (code, title, capacity)"
            " SELECT 'RUSH' || i, 'Popular course ' || i, %s FROM generate_series(1, %s) AS i"
            " RETURNING id",
            (RUSH_CAPACITY, RUSH_COURSES),
        ).fetchall()
        waitlist = conn.execute(
            "INSERT INTO courses (code, title, capacity, waitlist_capacity)"
            " SELECT 'WAIT' || i, 'Popular course ' || i, %s, %s"
            " FROM generate_series(1, %s) AS i RETURNING id",
            (RUSH_CAPACITY, RUSH_WAITLIST, RUSH_COURSES),
        ).fetchall()
        plenty = conn.execute(
            "INSERT INTO courses (code, title, capacity)"
            " SELECT 'PLENTY' || i, 'Large course ' || i, %s FROM generate_series(1, %s) AS i"
            " RETURNING id",
            (PLENTY_CAPACITY, RUSH_COURSES),
        ).fetchall()
        conn.execute("ANALYZE")
    return Dataset(
        students=students,
        courses=courses,
        enrollments=enrollments,
        rush_course_ids=[row[0] for row in rush],
        waitlist_course_ids=[row[0] for row in waitlist],
        plenty_course_ids=[row[0] for row in plenty],
        min_student_id=low_s,
        max_student_id=high_s,
        min_course_id=low_c,
        max_course_id=high_c,
    )


def overbooked(url: str, schema: str = "public") -> tuple[int, int]:
    """(courses over capacity or over their waitlist's, courses whose counts differ from
    their rows or that hold a free seat while someone waits), in `schema`'s tables."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT count(*) FILTER (WHERE (c.capacity IS NOT NULL AND n > c.capacity)"
                "                        OR w > c.waitlist_capacity),"
                " count(*) FILTER (WHERE c.enrolled_count <> n OR c.waitlisted_count <> w"
                "                  OR (w > 0 AND n < c.capacity))"
                " FROM {schema}.courses c CROSS JOIN LATERAL"
                " (SELECT count(*) FILTER (WHERE sc.status = 'enrolled') AS n,"
                "         count(*) FILTER (WHERE sc.status = 'waitlisted') AS w"
                "  FROM {schema}.student_courses sc WHERE sc.course_id = c.id) AS counted"
            ).format(schema=sql.Identifier(schema))
        ).fetchone()
    assert row is not None
    return row[0], row[1]
