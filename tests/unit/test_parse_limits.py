"""The logic-tree parser of api/rpc/parse.py under size and depth: one linear pass, a depth
limit instead of a RecursionError, the same trees as before for ordinary input."""

from __future__ import annotations

import pytest

from api.errors import QueryParamError
from api.rpc.parse import MAX_LOGIC_DEPTH, Filter, Logic, parse_logic


def nested(depth: int, leaf: str = "a.eq.1") -> str:
    return "(" + "and(" * (depth - 1) + leaf + ")" * (depth - 1) + ")"


def test_a_tree_at_the_depth_limit_parses() -> None:
    tree = parse_logic("or", nested(MAX_LOGIC_DEPTH))
    depth = 1
    while isinstance(tree.terms[0], Logic):
        tree, depth = tree.terms[0], depth + 1
    assert depth == MAX_LOGIC_DEPTH
    assert tree.terms == (Filter("a", "eq", "1"),)


@pytest.mark.parametrize("depth", [MAX_LOGIC_DEPTH + 1, 10_000])
def test_a_deeper_tree_is_a_400(depth: int) -> None:
    with pytest.raises(QueryParamError) as error:
        parse_logic("or", nested(depth))
    assert error.value.status == 400
    assert str(MAX_LOGIC_DEPTH) in (error.value.details or "")


def test_a_wide_tree_of_64_kib_parses_every_term() -> None:
    value = "(" + ",".join(f"a.eq.{i}" for i in range(8000)) + ")"
    assert len(value) > 64 * 1024
    terms = parse_logic("or", value).terms
    assert len(terms) == 8000
    assert terms[-1] == Filter("a", "eq", "7999")


def test_quoted_values_keep_commas_and_parentheses_at_any_depth() -> None:
    tree = parse_logic("and", '(a.eq."x,(y)",or(b.in.(1,"2,3"),not.and(c.eq."q\\"t")))')
    assert tree == Logic("and", (
        Filter("a", "eq", "x,(y)"),
        Logic("or", (
            Filter("b", "in", ("1", "2,3")),
            Logic("and", (Filter("c", "eq", 'q"t'),), negated=True),
        )),
    ))


def test_a_backslash_escape_is_read_once_however_deep() -> None:
    shallow = parse_logic("or", '(a.eq."x\\\\y")').terms[0]
    deep = parse_logic("or", '(and(and(a.eq."x\\\\y")))').terms[0]
    while isinstance(deep, Logic):
        deep = deep.terms[0]
    assert shallow == deep == Filter("a", "eq", "x\\y")


@pytest.mark.parametrize("value", ["(a.eq.1", "(and(a.eq.1)", "(a.eq.1))", "()", "(a.eq.\"x)",
                                   "(and(a.eq.1)x)", "(a.eq.1)x"])
def test_malformed_trees_are_400(value: str) -> None:
    with pytest.raises(QueryParamError):
        parse_logic("or", value)
