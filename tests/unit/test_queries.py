"""The named-SQL loader: names, parameter numbering, casts left alone."""

import pytest

from service.queries import SQL_DIR, load_queries, parse_queries, parse_query


def test_parameters_become_numbered_in_order_of_first_use() -> None:
    query = parse_query("q", "SELECT :b, :a, :b::bigint[]")
    assert query.text == "SELECT $1, $2, $1::bigint[]"
    assert query.parameters == ("b", "a")
    assert query.bind({"a": 1, "b": 2}) == [2, 1]


def test_casts_and_colons_inside_words_are_not_parameters() -> None:
    query = parse_query("q", "SELECT now()::text, to_char(now(), 'HH24:MI:SS')")
    assert query.parameters == ()
    assert "$" not in query.text


def test_each_name_line_starts_a_statement() -> None:
    queries = parse_queries("-- name: one\nSELECT 1;\n\n-- name: two-words\nSELECT :x;\n")
    assert list(queries) == ["one", "two-words"]
    assert queries["two-words"].text == "SELECT $1;"


def test_binding_without_a_parameter_fails_loudly() -> None:
    with pytest.raises(KeyError):
        parse_query("q", "SELECT :missing").bind({})


@pytest.mark.parametrize("path", sorted(SQL_DIR.glob("*.sql")), ids=lambda p: p.name)
def test_every_sql_file_loads_with_named_statements(path: object) -> None:
    queries = load_queries(SQL_DIR.joinpath(str(path)).stem)
    assert queries
    for query in queries.values():
        assert query.text.rstrip().endswith(";")
        assert "SELECT *" not in query.text
