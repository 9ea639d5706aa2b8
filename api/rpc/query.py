"""Stage 3b of the pipeline: a ``CallPlan`` → one parameterised SQL statement. Pure.

Identifiers in the SQL come only from the plan's catalog values (function, argument and
column names) or from this module's own constants; every value from the request —
arguments, filter operands, select aliases, limit/offset — is a bind parameter.

The statement does everything in one round trip (see ``api/rpc/transaction.py`` for why
that is safe): a *gate* sets the request GUCs, read-only mode and runs the pre-request
function before the function is called, and the outer aggregate builds the whole body
(JSON via ``json_agg``, CSV via ``string_agg``) and reads ``response.headers`` /
``response.status`` after the call, so Python only passes bytes through.

Shape of the statement (``$1``-``$6`` are the request context, the plan's values follow)::

    select count(*), <body>, <total>, current_setting('response.headers', true), …
    from (select <columns> from json_to_record($7::json) as _a(…),
                 lateral "schema"."fn"("a" := _a."a") as _f
          where (select <gate>) and <filters> order by … limit $8 offset $9) as _p
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from api.config import QualifiedName
from api.rpc.parse import Filter, Logic
from api.rpc.plan import CallPlan, JsonArgs, OutputColumn, QueryArgs, RawArg
from api.rpc.schema_cache import Function

# the request GUCs every statement sets, in the order of their parameters ($1 … $6), which
# are ``api.http.RequestContext.values``
CONTEXT_GUCS = ("request.jwt.claims", "request.method", "request.path", "request.headers",
                "request.cookies", "search_path")
CONTEXT_PARAMS = len(CONTEXT_GUCS)
_SET_CONTEXT_CALLS = tuple(
    f"set_config('{name}', ${i}, true)" for i, name in enumerate(CONTEXT_GUCS, start=1)
)
RESPONSE_GUCS = (
    "nullif(current_setting('response.headers', true), ''), "
    "nullif(current_setting('response.status', true), '')"
)
# statements of their own, for the transaction stage
SET_CONTEXT_SQL = "select " + ", ".join(_SET_CONTEXT_CALLS)
RESPONSE_GUCS_SQL = f"select {RESPONSE_GUCS}"
# before a streamed COPY: the request GUCs, then the role's statement timeout in seconds,
# which is then lifted for the transaction. One COPY is one statement however long the
# client takes to read it, so the timeout is applied per chunk by the reader instead (as
# it was per FETCH of a cursor): it bounds PostgreSQL's work, never the client's reading.
STREAM_CONTEXT_SQL = (
    SET_CONTEXT_SQL
    + ", extract(epoch from current_setting('statement_timeout')::interval)::float8"
    + ", set_config('statement_timeout', '0', true)"
)
# the response cache's data token (migration 0081), read in the call's own snapshot
DATA_TOKEN = "(select token from metrics_rpc_cache.data_token)"  # noqa: S105 (not a password)
RESPONSE_GUCS_TOKEN_SQL = f"select {RESPONSE_GUCS}, {DATA_TOKEN}"
# a streamed result's first line: the response GUCs once the first row is there (the
# function has run), as a JSON array [headers, status]; with the data token of the COPY's
# own snapshot as a third element
STREAM_HEAD = f"json_build_array({RESPONSE_GUCS})::text"
STREAM_HEAD_TOKEN = f"json_build_array({RESPONSE_GUCS}, {DATA_TOKEN})::text"
SWITCH_ROLE_SQL = "select set_config(n, v, false) from unnest($1::text[], $2::text[]) as u(n, v)"

PROBE_ROWS = 5000  # a streamed read with at most this many rows is answered by the probe
# the function's own row number (WITH ORDINALITY) in a streamed COPY that numbers its rows
ROW_NUMBER = "_n"

_COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_PATTERNS = {"like": "like", "ilike": "ilike", "match": "~", "imatch": "~*"}
_IS = {"null": "is null", "not_null": "is not null", "true": "is true", "false": "is false",
       "unknown": "is unknown"}


class Statement(msgspec.Struct, frozen=True):
    """The SQL of a plan: ``sql`` with ``params`` for $7 onwards.

    A streamed one's ``sql`` is the query of a ``COPY (…) TO STDOUT`` (COPY takes no
    parameters: the request GUCs, $1-$6, are set before it by ``SET_CONTEXT_SQL`` with bind
    parameters, the plan's values are inlined as literals by ``inline_params``; so tokens
    and cookies never reach the SQL text, which PostgreSQL logs with an error): one line
    per result row, already rendered (JSON text or a CSV line), the first one led by the
    response GUCs (``STREAM_HEAD``) and ``\\x01``. The body is ``stream_prefix``, then the
    rows with ``stream_first_separator`` before the first and ``stream_separator`` between
    the others (both as ``json_agg`` / the CSV body of a call would put them), then
    ``stream_suffix``.
    """

    plan: CallPlan
    sql: str
    params: tuple[Any, ...]
    stream_prefix: bytes = b""
    stream_first_separator: bytes = b""
    stream_separator: bytes = b","
    stream_suffix: bytes = b""
    # streamed reads: the call's own body over at most ``PROBE_ROWS + 1`` rows, in one row
    # (count, body, response GUCs) like a non-streamed call: one round trip answers a small
    # result, and only a larger one opens a transaction and a COPY. It takes the first
    # ``probe_params`` of ``params``.
    probe_sql: str | None = None
    probe_params: int = 0
    # the call, and the probe, end with the data token as one more column; a streamed
    # COPY carries it in its first line (``STREAM_HEAD_TOKEN``) and, with no rows, reads it
    # after the COPY in the same repeatable-read transaction
    data_token: bool = False


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Params:
    """Bind parameters after the context ones; ``add`` returns the placeholder."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${CONTEXT_PARAMS + len(self.values)}"


def call_statement(plan: CallPlan, *, data_token: bool = False) -> Statement:
    """The statement of ``plan``; with ``data_token``, it also returns the response
    cache's data token as of its own snapshot (see ``Statement.data_token``)."""
    fn = plan.function
    token = f", {DATA_TOKEN}" if data_token else ""
    params = _Params()
    ordinal = plan.streaming and _numbers_its_rows(plan)
    from_clause = _from_clause(plan, params, ordinality=ordinal)
    conditions = [_condition(f, fn, params) for f in plan.filters]
    where = [_gate(plan.read_only, plan.pre_request), *conditions]
    order = _order(plan)
    page = ""
    if plan.page.limit is not None:
        page += f" limit {params.add(plan.page.limit)}"
    if plan.page.offset:
        page += f" offset {params.add(plan.page.offset)}"
    columns = _column_exprs(plan)
    plain = plan.plain_columns
    # the catalog's own column names when the result is the function's columns (so
    # json_agg(_p) gives the keys); positional names otherwise (aliases are bind parameters)
    inner_cols = ", ".join(
        f"{expr} as {quote_ident(name) if plain else f'_c{i}'}"
        for i, (name, expr) in enumerate(columns)
    ) or "1"
    where_sql = " and ".join(where)
    if plan.streaming:
        # the COPY's own gate does not set the request GUCs: a statement with bind
        # parameters sets them first, so no token or cookie is inlined into SQL text
        # (which PostgreSQL writes to its log with an error)
        copy_where = " and ".join(
            [_gate(plan.read_only, plan.pre_request, context=False), *conditions])
        return _streamed_statement(plan, columns, params, from_clause, where_sql, copy_where,
                                   order, page, inner_cols, data_token=data_token,
                                   ordinal=ordinal)
    body = _body_expr(plan, columns, params, plain)
    if plan.count:
        sql = (f"with _s as (select _f.* from {from_clause} where {where_sql}) "
               f"select count(*)::int8, {body}, (select count(*) from _s)::int8, "
               f"{RESPONSE_GUCS}{token} from (select {inner_cols} from _s as _f{order}{page})"
               " as _p")
    else:
        sql = (f"select count(*)::int8, {body}, null::int8, {RESPONSE_GUCS}{token} "
               f"from (select {inner_cols} from {from_clause} where {where_sql}{order}{page})"
               " as _p")
    return Statement(plan, sql, tuple(params.values), data_token=data_token)


def _streamed_statement(plan: CallPlan, columns: list[tuple[str, str]], params: _Params,
                        from_clause: str, where: str, copy_where: str, order: str, page: str,
                        inner_cols: str, *, data_token: bool = False,
                        ordinal: bool = False) -> Statement:
    """The COPY query of a streamed call (rows filtered by ``copy_where``) and, for a read,
    its probe (filtered by ``where``, whose gate sets the request GUCs itself). The first line is
    told by the function's own row number when it is the first row sent (``ordinal``:
    ``_from_clause`` numbered the rows), else by ``row_number()``, a window over all rows."""
    plain = plan.plain_columns
    token = f", {DATA_TOKEN}" if data_token else ""
    rows = f"(select {inner_cols} from {from_clause} where {where}{order}{page}) as _p"
    probe_sql = None
    expected = expected_rows(plan)
    # re-running it must be harmless; a range known to hold more rows skips it
    if plan.read_only and not plan.rollback and (expected is None or expected <= PROBE_ROWS):
        probe_sql = (f"select count(*)::int8, {_body_expr(plan, columns, params, plain)}, "
                     f"{RESPONSE_GUCS}{token} from (select * from {rows} limit {PROBE_ROWS + 1})"
                     " as _p")
    probe_params = len(params.values)
    head = STREAM_HEAD_TOKEN if data_token else STREAM_HEAD
    row = _row_expr(plan, columns, params, plain)
    rest = "_q._r"
    sep = b", \n " if _json_agg_newline(plan) else b", "
    if plan.media == "json" and plan.function.shape == "setof_scalar" and sep == b", \n ":
        # json_agg: ", \n " before an array, ", " before a null
        rest, sep = "case when _q._r = 'null' then _q._r else E'\\n ' || _q._r end", b", "
    if ordinal:
        numbered = (f"{row} as _r, _f.{ROW_NUMBER} as _n from {from_clause}, "
                    f"lateral (select {inner_cols}) as _p where {copy_where}{page}")
    else:
        numbered = (f"{row} as _r, row_number() over () as _n from (select {inner_cols} "
                    f"from {from_clause} where {copy_where}{order}{page}) as _p")
    sql = (f"select case when _q._n = 1 then {head} || E'\\x01' || _q._r else {rest} "
           f"end from (select {numbered}) as _q")
    if plan.media == "csv":
        prefix, first_sep, sep, suffix = _csv_header(columns).encode(), b"\n", b"\n", b""
    else:
        prefix, first_sep, suffix = b"[", b"", b"]"
    return Statement(plan, sql, tuple(params.values), prefix, first_sep, sep, suffix,
                     probe_sql, probe_params, data_token)


_PLACEHOLDER = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|\$(\d+)')


def inline_params(sql: str, values: Sequence[Any]) -> str:
    """``sql`` (this module's own, with ``$n`` placeholders) with ``values`` as literals, for
    statements that take no parameters (COPY). Quoted identifiers and literals are skipped."""

    def literal(found: re.Match[str]) -> str:
        if found.group(1) is None:
            return found.group(0)
        return sql_literal(values[int(found.group(1)) - 1])

    return _PLACEHOLDER.sub(literal, sql)


def sql_literal(value: Any) -> str:
    """A parameter value as an SQL literal: an ``E''`` string (the same whatever
    ``standard_conforming_strings`` says; a NUL becomes ``\\000``, which PostgreSQL rejects
    with 22021 as it rejects a NUL in a parameter), a number, NULL, a text array or bytea."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return f"E'\\\\x{value.hex()}'::bytea"
    if isinstance(value, (list, tuple)):
        return f"ARRAY[{', '.join(sql_literal(v) for v in value)}]::text[]"
    text = str(value).replace("\\", "\\\\").replace("'", "''").replace("\x00", "\\000")
    return f"E'{text}'"


_INTERVAL = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|second|min|minute|h|hour|d|day|w|week)s?\s*",
                       re.I)
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600,
                 "hour": 3600, "d": 86400, "day": 86400, "w": 604800, "week": 604800}


def expected_rows(plan: CallPlan) -> int | None:
    """How many rows a streamed call is expected to return when its arguments say so: the
    page's limit, or for a range function (``p_from``, ``p_to``, ``p_interval`` in the
    query string) the number of buckets; None when unknown. Only an estimate (a function
    may return several rows a bucket): it decides whether to try the one-round-trip probe
    first, and the probe itself falls back to the COPY when it meets more rows."""
    bound = plan.page.limit
    if isinstance(plan.arguments, QueryArgs):
        values = dict(plan.arguments.values)
        p_from, p_to, p_interval = (values.get(k) for k in ("p_from", "p_to", "p_interval"))
        if isinstance(p_from, str) and isinstance(p_to, str) and isinstance(p_interval, str):
            buckets = range_buckets(p_from, p_to, p_interval)
            if buckets is not None:
                bound = buckets if bound is None else min(bound, buckets)
    return bound


def range_buckets(p_from: str, p_to: str, p_interval: str) -> int | None:
    """Buckets of ``p_interval`` from ``p_from`` to ``p_to``, both ends counted; None for
    what this does not parse (months, ``01:00:00``, naive against aware timestamps)."""
    found = _INTERVAL.fullmatch(p_interval)
    try:
        start, end = datetime.fromisoformat(p_from), datetime.fromisoformat(p_to)
        span = (end - start).total_seconds()
    except (ValueError, TypeError):  # unparsable, or naive against aware
        return None
    if found is None or float(found.group(1)) <= 0:
        return None
    step = float(found.group(1)) * _UNIT_SECONDS[found.group(2).lower()]
    return max(0, math.ceil(span / step)) + 1


@functools.cache
def _gate(read_only: bool, pre_request: QualifiedName | None, *, context: bool = True) -> str:
    """A one-time filter evaluated before the function runs (a gating Result node); built
    once per (read_only, pre_request, context). Without ``context`` the request GUCs are
    not set here (a statement before it did).

    CASE guarantees the set_config calls finish before the pre-request function runs.
    """
    calls = [*(_SET_CONTEXT_CALLS if context else ()),
             *(("set_config('transaction_read_only', 'on', true)",) if read_only else ())]
    settings = " || ".join(calls) or "''"
    then = "true"
    if pre_request is not None:
        schema = quote_ident(pre_request.schema or "public")
        then = f"(select true from {schema}.{quote_ident(pre_request.name)}() as _pre)"
    return f"(select case when ({settings}) is null then false else {then} end)"


def _alias(fn: Function, *, ordinality: bool = False) -> str:
    """``_f``; a function returning a base type names its one column in a column alias
    (its OUT parameter's name, else the function's), as a table alias alone would rename it.
    With ``ordinality`` every column is named, then the row number (``ROW_NUMBER``)."""
    if ordinality:
        names = [quote_ident(c.name) for c in fn.columns]
        return f" with ordinality as _f({', '.join([*names, ROW_NUMBER])})"
    if fn.shape == "void":
        return f" as _f({quote_ident(fn.name)})"
    if fn.returns_base_type:
        return f" as _f({quote_ident(fn.columns[0].name)})"
    return " as _f"


def _numbers_its_rows(plan: CallPlan) -> bool:
    """Whether the function's own row number (``WITH ORDINALITY``, no window over the
    rows) tells the first row a streamed call sends: nothing filters, orders or skips
    them, and the call is in FROM (a bare record is called in a select list)."""
    fn = plan.function
    return (not plan.filters and not plan.order and not plan.page.offset
            and not (fn.return_type == "record" and fn.shape == "setof_scalar")
            and all(c.name != ROW_NUMBER for c in fn.columns))


def _from_clause(plan: CallPlan, params: _Params, *, ordinality: bool = False) -> str:
    fn = plan.function
    call = f"{quote_ident(fn.schema)}.{quote_ident(fn.name)}"
    alias = _alias(fn, ordinality=ordinality)
    arguments = plan.arguments

    def called(args_sql: str) -> str:
        if fn.return_type == "record" and fn.shape in ("scalar", "setof_scalar"):
            # a bare record needs a column definition list in FROM: call it in a select
            # list instead (its value keeps the column names of the function's own query)
            return f"(select {call}({args_sql}) as {quote_ident(fn.columns[0].name)}) as _f"
        return f"{call}({args_sql}){alias}"

    if isinstance(arguments, RawArg):
        unnamed = plan.args[0]
        placeholder = params.add(arguments.value)
        source = "text" if unnamed.type != "bytea" else "bytea"
        return called(f"{placeholder}::{source}::{unnamed.type}")
    if arguments is None:
        return called("")
    if isinstance(arguments, JsonArgs):
        args_json = arguments.body.decode()
    else:
        args_json = _query_args_json(arguments)
    record_cols = ", ".join(f"{quote_ident(a.name)} {a.type}" for a in plan.args)
    call_args = ", ".join(
        f"{'variadic ' if a.variadic else ''}{quote_ident(a.name)} := _a.{quote_ident(a.name)}"
        for a in plan.args
    )
    return (f"json_to_record({params.add(args_json)}::json) as _a({record_cols}), "
            f"lateral {called(call_args)}")


def _query_args_json(arguments: QueryArgs) -> str:
    return msgspec.json.encode(dict(arguments.values)).decode()


def _column_type(fn: Function, name: str) -> str:
    col = fn.column(name)
    assert col is not None  # the plan checked every column name
    return col.type


def _condition(term: Filter | Logic, fn: Function, params: _Params) -> str:
    if isinstance(term, Logic):
        joined = f" {term.operator} ".join(_condition(t, fn, params) for t in term.terms)
        sql = f"({joined or 'true'})"
        return f"not {sql}" if term.negated else sql
    col_type = _column_type(fn, term.column)
    ref = f"_f.{quote_ident(term.column)}"
    op = term.operator
    if op in _COMPARISONS:
        sql = f"{ref} {_COMPARISONS[op]} {params.add(_text(term.value))}::text::{col_type}"
    elif op in _PATTERNS:
        value = _text(term.value)
        if op in ("like", "ilike"):
            value = value.replace("*", "%")
        sql = f"{ref}::text {_PATTERNS[op]} {params.add(value)}::text"
    elif op == "in":
        values = list(term.value) if isinstance(term.value, tuple) else [term.value]
        sql = f"{ref} = any({params.add(values)}::text[]::{_array_of(col_type)})"
    elif op == "is":
        sql = f"{ref} {_IS[_text(term.value)]}"
    elif op == "isdistinct":
        sql = f"{ref} is distinct from {params.add(_text(term.value))}::text::{col_type}"
    else:  # pragma: no cover - parse only produces the operators above
        raise AssertionError(f"unknown operator {op}")
    return f"not ({sql})" if term.negated else sql


def _text(value: str | tuple[str, ...]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def _array_of(type_name: str) -> str:
    return type_name if type_name.endswith("[]") else f"{type_name}[]"


def _order(plan: CallPlan) -> str:
    if not plan.order:
        return ""
    terms = []
    for term in plan.order:
        sql = f"_f.{quote_ident(term.column)} {'desc' if term.descending else 'asc'}"
        if term.nulls:
            sql += f" nulls {term.nulls}"
        terms.append(sql)
    return " order by " + ", ".join(terms)


def _column_exprs(plan: CallPlan) -> list[tuple[str, str]]:
    """(output name, SQL expression over ``_f``) of each result column."""
    fn = plan.function
    if fn.shape == "void":
        return [(fn.name, f"_f.{quote_ident(fn.name)}")]
    return [(c.name, _column_expr(c)) for c in plan.columns]


def _column_expr(column: OutputColumn) -> str:
    expr = f"_f.{quote_ident(column.column.name)}"
    return f"({expr})::{column.cast}" if column.cast else expr


def _object_expr(columns: list[tuple[str, str]], params: _Params) -> str:
    """One result row as a JSON object; keys are bind parameters (aliases come from the URL)."""
    pairs = ", ".join(f"{params.add(name)}::text, _p._c{i}" for i, (name, _) in enumerate(columns))
    return f"json_build_object({pairs})"


def _refs(columns: list[tuple[str, str]], plain: bool) -> list[str]:
    return [f"_p.{quote_ident(name)}" if plain else f"_p._c{i}"
            for i, (name, _) in enumerate(columns)]


def _body_expr(plan: CallPlan, columns: list[tuple[str, str]], params: _Params,
               plain: bool) -> str:
    fn = plan.function
    if fn.shape == "void":
        return "null::bytea"
    if plan.media in ("text", "xml", "binary"):  # a scalar's own bytes (null: empty)
        ref = _refs(columns, plain)[0]
        if plan.media == "binary" and fn.return_type == "bytea":
            return f"coalesce(string_agg({ref}, ''::bytea), ''::bytea)"
        return f"convert_to(coalesce(string_agg({ref}::text, ''), ''), 'UTF8')"
    if plan.media == "csv":
        header = params.add(_csv_header(columns))
        row = _csv_row(_refs(columns, plain))
        return (f"convert_to({header}::text || coalesce(E'\\n' || string_agg({row}, E'\\n'), ''),"
                " 'UTF8')")
    if fn.shape in ("scalar", "setof_scalar"):
        agg = f"json_agg({_refs(columns, plain)[0]})"
    elif plain:
        agg = "json_agg(_p)"
    else:
        agg = f"json_agg({_object_expr(columns, params)})"
    if fn.shape in ("scalar", "composite") or plan.media == "object":
        return f"convert_to(coalesce(({agg} -> 0)::text, 'null'), 'UTF8')"
    return f"convert_to(coalesce({agg}, '[]')::text, 'UTF8')"


def _row_expr(plan: CallPlan, columns: list[tuple[str, str]], params: _Params,
              plain: bool) -> str:
    """One pre-rendered row (streaming): JSON text as ``json_agg`` renders an element, or
    a CSV line."""
    if plan.media == "csv":
        return _csv_row(_refs(columns, plain))
    if plan.function.shape == "setof_scalar":
        return f"coalesce(to_json({_refs(columns, plain)[0]})::text, 'null')"
    if plain:
        return "row_to_json(_p)::text"
    return f"{_object_expr(columns, params)}::text"


def _json_agg_newline(plan: CallPlan) -> bool:
    """Whether ``json_agg`` puts ``\\n `` after its ``, `` between the elements of this
    result: between composite rows and between arrays (not before a null), not between
    other values (``json_build_object``'s objects are json values)."""
    fn = plan.function
    if fn.shape == "setof_scalar":
        return fn.columns[0].type.endswith("[]")
    return plan.plain_columns


def _csv_field(name: str) -> str:
    if any(ch in name for ch in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name


def _csv_header(columns: list[tuple[str, str]]) -> str:
    return ",".join(_csv_field(name) for name, _ in columns)


def _csv_row(refs: list[str]) -> str:
    fields = []
    for ref in refs:
        value = f"{ref}::text"
        fields.append(
            f"coalesce(case when {value} ~ '[\",\\r\\n]' "
            f"then '\"' || replace({value}, '\"', '\"\"') || '\"' else {value} end, '')"
        )
    return " || ',' || ".join(fields)
