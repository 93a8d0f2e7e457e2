"""W3C Trace Context: which `traceparent` headers are continued, which start a new trace."""

import pytest

from service.plumbing.tracing import TRACESTATE_LONGEST, TraceParent, incoming

TRACE_ID, PARENT_ID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def scope(*headers: tuple[str, str]) -> dict[str, object]:
    return {"headers": [(name.encode(), value.encode()) for name, value in headers]}


def parsed(traceparent: str, *tracestates: str) -> TraceParent | None:
    headers = [("traceparent", traceparent), *(("tracestate", s) for s in tracestates)]
    return incoming(scope(*headers))


def test_a_version_00_header_is_continued_with_its_sampled_flag() -> None:
    assert parsed(f"00-{TRACE_ID}-{PARENT_ID}-01", "a=1") == TraceParent(
        TRACE_ID, PARENT_ID, sampled=True, tracestate="a=1"
    )
    unsampled = parsed(f"00-{TRACE_ID}-{PARENT_ID}-00")
    assert unsampled is not None
    assert not unsampled.sampled
    other_flags = parsed(f"00-{TRACE_ID}-{PARENT_ID}-03")  # bits not yet defined are ignored
    assert other_flags is not None
    assert other_flags.sampled


def test_a_future_version_is_read_as_version_00_ignoring_what_follows() -> None:
    later = parsed(f"cc-{TRACE_ID}-{PARENT_ID}-01-what-the-future-adds")
    assert later == TraceParent(TRACE_ID, PARENT_ID, sampled=True, tracestate="")
    assert parsed(f"cc-{TRACE_ID}-{PARENT_ID}-01") is not None


@pytest.mark.parametrize(
    "traceparent",
    [
        f"ff-{TRACE_ID}-{PARENT_ID}-01",  # version ff is invalid
        f"00-{TRACE_ID}-{PARENT_ID}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",  # uppercase hex
        f"00-{'0' * 32}-{PARENT_ID}-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",  # too short
        f"00-{TRACE_ID}-{PARENT_ID}-1",
        f"00_{TRACE_ID}_{PARENT_ID}_01",
        f"00-{TRACE_ID}-{PARENT_ID}-0g",
        "",
    ],
)
def test_a_malformed_header_starts_a_new_trace_and_drops_tracestate(traceparent: str) -> None:
    assert parsed(traceparent, "a=1") is None


def test_two_traceparents_cannot_be_trusted() -> None:
    one, other = f"00-{TRACE_ID}-{PARENT_ID}-01", f"00-{TRACE_ID}-{'1' * 16}-01"
    assert incoming(scope(("traceparent", one), ("traceparent", other))) is None


def test_tracestate_headers_are_joined_and_an_oversized_one_dropped() -> None:
    joined = parsed(f"00-{TRACE_ID}-{PARENT_ID}-01", "a=1", "b=2")
    assert joined is not None
    assert joined.tracestate == "a=1,b=2"
    oversized = parsed(f"00-{TRACE_ID}-{PARENT_ID}-01", "a=" + "x" * TRACESTATE_LONGEST)
    assert oversized is not None
    assert oversized.tracestate == ""


@pytest.mark.parametrize(
    "tracestate",
    [
        "level=ERROR event=admin.login",  # a space inside a key: not a list member
        "a=1,B=2",  # keys are lowercase
        "a=1,a=2",  # a key twice
        "a=x=y\u0085",  # a value out of the allowed characters
        ",".join(f"k{n}=v" for n in range(33)),  # over 32 members
    ],
)
def test_a_tracestate_the_spec_does_not_allow_is_dropped_whole(tracestate: str) -> None:
    parent = parsed(f"00-{TRACE_ID}-{PARENT_ID}-01", tracestate)
    assert parent is not None
    assert parent.tracestate == ""


def test_a_tracestate_the_spec_allows_is_kept_as_sent() -> None:
    state = "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,tenant@vendor=a b"
    parent = parsed(f"00-{TRACE_ID}-{PARENT_ID}-01", state)
    assert parent is not None
    assert parent.tracestate == state


def test_no_header_no_parent() -> None:
    assert incoming(scope(("tracestate", "a=1"))) is None
