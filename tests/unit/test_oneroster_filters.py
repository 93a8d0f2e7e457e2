"""The OneRoster filter language alone: what parses, what does not, and what SQL it becomes
(values bound, never spliced; the whole parenthesized, so a scope ANDed outside holds)."""

import pytest

from service.oneroster.filters import (
    Clause,
    Field,
    Filter,
    FilterError,
    Params,
    compile_filter,
    parse,
)

FIELDS = {
    "givenName": Field('r."givenName"'),
    "dateLastModified": Field('r."dateLastModified"', "instant"),
}


def test_a_clause_and_two_joined_parse() -> None:
    assert parse("givenName='Ada'") == Filter((Clause("givenName", "=", "Ada"),))
    assert parse("givenName>='A' OR givenName~'it''s'") == Filter(
        (Clause("givenName", ">=", "A"), Clause("givenName", "~", "it's")), "OR"
    )
    assert parse("givenName=''") == Filter((Clause("givenName", "=", ""),))


@pytest.mark.parametrize(
    "text",
    ["", "'a'='b'", "1a='b'", "a='b", "a='b' AND", "a='b' XOR c='d'", "a=='b'", "a='b'c"],
)
def test_what_is_not_the_grammar_fails(text: str) -> None:
    with pytest.raises(FilterError):
        parse(text)


def test_values_are_bound_and_the_whole_is_parenthesized() -> None:
    params = Params(["scope value"])
    sql = compile_filter(
        parse("givenName='x'' OR 1=1 --' OR dateLastModified>'2026-01-02T03:04:05Z'"),
        FIELDS,
        params,
    )
    assert sql == '(r."givenName" = $2::text OR r."dateLastModified" > $3::timestamptz)'
    assert params.values[1] == "x' OR 1=1 --"
    assert str(params.values[2]) == "2026-01-02 03:04:05+00:00"


def test_contains_ignores_case_without_pattern_characters() -> None:
    params = Params()
    sql = compile_filter(parse("givenName~'50%_'"), FIELDS, params)
    assert sql == '(strpos(lower(r."givenName"), lower($1::text)) > 0)'
    assert params.values == ["50%_"]


def test_unknown_fields_and_bad_instants_are_refused() -> None:
    for text in ("email='x'", "dateLastModified>'2026-01-02'", "dateLastModified~'2026'"):
        with pytest.raises(FilterError):
            compile_filter(parse(text), FIELDS, Params())
