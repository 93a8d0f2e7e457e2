"""The advisory locks the service takes, each `pg_advisory_xact_lock(class, hash)`: the
two-key form, whose first key is the kind of lock, so that a hash of one kind never meets
another kind's (a caller crafting idempotency keys cannot make an external id's PUT wait).
Every statement taking one gets its class from here."""

from enum import IntEnum


class LockClass(IntEnum):
    IDEMPOTENCY_KEY = 1  # sql/idempotency.sql try-lock-key
    STUDENT_EXTERNAL_ID = 2  # sql/students.sql lock-student-external-id
    COURSE_EXTERNAL_ID = 3  # sql/courses.sql lock-course-external-id
