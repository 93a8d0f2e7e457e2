"""The mutations: each breaks one contract rule with a one-line change, and names the tests
that guard the rule. `original` must occur exactly once in its file, so a mutation cannot
silently stop applying when the code moves on."""

# ruff: noqa: E501 (a line of the service, quoted whole, is as long as it is)

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    original: str
    mutant: str
    tests: tuple[str, ...]


API = "tests/api"
UNIT_CHECKS = "tests/unit/test_token_check.py"  # TokenCheck without an app

MUTATIONS = (
    Mutation(
        "M1 an idempotency key's lock waits instead of refusing",
        "sql/idempotency.sql",
        "SELECT pg_try_advisory_xact_lock(:lock_class, hashtext(length(:scope) || ':' || :scope || :key));",
        "SELECT pg_advisory_xact_lock(:lock_class, hashtext(length(:scope) || ':' || :scope || :key))::text = '';",
        (
            f"{API}/test_idempotency.py::test_a_key_held_by_a_request_in_flight_gets_409_at_once_and_changes_nothing",
        ),
    ),
    Mutation(
        "M2 a streamed body is read past 64 KiB",
        "service/web.py",
        "                if len(body) > MAX_BODY_BYTES:",
        "                if False:",
        (
            f"{API}/test_hostile_input.py::test_a_chunked_body_over_64_kib_is_413_and_exactly_64_kib_is_read",
        ),
    ),
    Mutation(
        "M3 changes are kept 10 minutes, not 7 days",
        "service/config.py",
        "    changes_retention: timedelta = timedelta(days=7)",
        "    changes_retention: timedelta = timedelta(minutes=10)",
        (f"{API}/test_change_feed_retention.py",),
    ),
    Mutation(
        "M3' CHANGES_RETENTION unset means 10 minutes",
        "service/config.py",
        '            changes_retention=_duration("CHANGES_RETENTION", "7d"),',
        '            changes_retention=_duration("CHANGES_RETENTION", "10m"),',
        ("tests/unit/test_config.py",),
    ),
    Mutation(
        "tokens alone leave every endpoint open",
        "service/plumbing/auth.py",
        "        if not self.keys and self.tokens is None:",
        "        if not self.keys:",
        (
            f"{API}/test_tokens.py::test_with_tokens_alone_every_operation_but_the_open_three_needs_a_token",
        ),
    ),
    Mutation(
        "the change feed is read from a replica",
        "service/replicas.py",
        "        and not path.startswith(PRIMARY_ONLY)",
        "        and True",
        (
            "tests/test_replicas.py::test_the_feed_and_history_stay_gap_free_under_concurrent_writers",
        ),
    ),
    Mutation(
        "a pair's history is read from a replica",
        "service/replicas.py",
        "        and not path.endswith(PRIMARY_ONLY_SUFFIX)",
        "        and True",
        (
            "tests/test_replicas.py::test_the_feed_and_history_stay_gap_free_under_concurrent_writers",
        ),
    ),
    Mutation(
        "a course already held answers before an unknown one",
        "service/repositories/enrollments.py",
        "        if unknown := attempt.unknown:",
        "        if (unknown := attempt.unknown) and not attempt.held:",
        (
            f"{API}/test_student.py::test_an_invalid_list_answers_422_before_held_or_full_courses_answer_409",
        ),
    ),
    Mutation(
        "a course's read carries no ETag and never answers 304",
        "service/routes/courses.py",
        "    return conditional.read(request, course)",
        "    return JSONResponse(course)",
        (f"{API}/test_conditional.py::test_a_read_carries_an_etag_and_a_repeat_with_it_gets_304",),
    ),
    Mutation(
        "unknown fields in a body are ignored",
        "service/schemas/__init__.py",
        'model_config = ConfigDict(extra="forbid", strict=True)',
        'model_config = ConfigDict(extra="ignore", strict=True)',
        (
            f"{API}/test_external_ids.py::test_an_unknown_field_in_a_put_is_422_with_its_pointer_and_changes_nothing",
        ),
    ),
    Mutation(
        "a drop logs v1's enrollment.deleted",
        "service/audit.py",
        '    _log(f"enrollment.{status}", Attempt(student_id=student_id, course_ids=[course_id]))',
        '    _log(f"enrollment.{status}".replace("dropped", "deleted"), Attempt(student_id=student_id, course_ids=[course_id]))',
        (
            f"{API}/test_logging.py::test_a_drop_by_delete_or_patch_logs_enrollment_dropped_as_the_contract_names_it",
        ),
    ),
    Mutation(
        "unknown kids refetch the key set without a floor",
        "service/plumbing/tokens.py",
        "        await asyncio.sleep(max(0.0, floor - time.monotonic()))",
        "        await asyncio.sleep(0)",
        (f"{API}/test_tokens.py::test_unknown_kids_refetch_no_more_often_than_the_floor",),
    ),
    Mutation(
        "a bearer of any length is parsed",
        "service/plumbing/auth.py",
        "        if bearer and len(bearer) > LONGEST_BEARER_BYTES:",
        "        if False:",
        (f"{API}/test_tokens.py::test_a_bearer_over_8_kib_gets_401_before_it_is_parsed",),
    ),
    Mutation(
        "a key replaced under its kid keeps the tokens it verified",
        "service/plumbing/tokens.py",
        "        if self.keys is None or _materials(keys) != _materials(self.keys):",
        "        if self.keys is None or keys.keys() != self.keys.keys():",
        (
            f"{UNIT_CHECKS}::test_a_token_verified_before_its_key_was_replaced_under_the_same_kid_stops_working",
        ),
    ),
    Mutation(
        "a token of any typ is accepted",
        "service/plumbing/tokens.py",
        "        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES):",
        "        if False:",
        (f"{UNIT_CHECKS}::test_a_token_of_another_type_is_refused",),
    ),
    Mutation(
        "an external id's encoded / splits the path",
        "service/routes/__init__.py",
        "    kind = RawPathRoute if raw_path else Route",
        "    kind = Route",
        (
            f"{API}/test_external_ids.py::test_every_external_id_stored_can_be_upserted_a_slash_included",
        ),
    ),
    Mutation(
        "a forged tracestate reaches OpenTelemetry",
        "service/plumbing/tracing.py",
        '        tracestate=_valid_tracestate(b",".join(tracestate).decode("latin-1")),',
        '        tracestate=b",".join(tracestate).decode("latin-1"),',
        (
            "tests/unit/test_trace_context.py",
            f"{API}/test_tracing.py::test_a_forged_tracestate_never_reaches_a_log_line",
        ),
    ),
    Mutation(
        "text log lines write values bare",
        "service/plumbing/log_format.py",
        "    return text if _BARE.fullmatch(text) else json.dumps(text)",
        "    return text",
        ("tests/unit/test_logs.py::test_text_lines_quote_and_escape_values_the_logfmt_way",),
    ),
    Mutation(
        "a course found full is never tried for again",
        "service/repositories/enrollments.py",
        "        if attempt is None or attempt.worth_trying:",
        "        if attempt is None:",
        (
            f"{API}/test_full_courses.py::test_a_course_found_full_answers_as_before_and_a_freed_seat_is_taken",
        ),
    ),
    Mutation(
        "a stale webhook lease holder may still send",
        "sql/webhooks.sql",
        "    WHERE w.id = :webhook_id AND w.lease_owner = :owner AND w.status IN ('active', 'failing')",
        "    WHERE w.id = :webhook_id AND w.status IN ('active', 'failing')",
        ("tests/test_webhook_processes.py::test_a_stale_lease_holders_commit_changes_nothing",),
    ),
    Mutation(
        "a webhook signature leaves out the delivery's id",
        "service/webhooks/signing.py",
        '    signed = f"{delivery_id}.{timestamp}.".encode() + body',
        '    signed = f"{timestamp}.".encode() + body',
        (
            f"{API}/test_webhooks.py::test_every_change_is_delivered_once_in_feed_order_as_changes_shows_it",
        ),
    ),
    Mutation(
        "a OneRoster filter's OR can widen the endpoint's scope",
        "service/oneroster/filters.py",
        '    return "(" + f" {parsed.joiner} ".join(conditions) + ")"',
        '    return f" {parsed.joiner} ".join(conditions)',
        (f"{API}/test_oneroster.py::test_or_inside_a_relationship_collection_stays_inside_it",),
    ),
)
