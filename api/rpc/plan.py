"""Stage 3 of the pipeline: ``RpcRequest`` + ``SchemaCache`` → one parameterised statement.

Pure: no I/O. Identifiers in the SQL come only from the schema cache (function, argument
and column names) or from this module's own constants; every value from the request —
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

import difflib
import functools
from collections.abc import Sequence
from typing import Any

import msgspec

from api.errors import AmbiguousRpc, ColumnNotFound, NoRpc, QueryParamError
from api.rpc.parse import Filter, Logic, Media, RpcRequest, SelectItem, args_as_json
from api.rpc.schema_cache import Column, Function, SchemaCache

# the request GUCs every plan sets, in the order of their parameters ($1 … $6), which are
# ``transaction.RequestContext.values``
CONTEXT_GUCS = ("request.jwt.claims", "request.method", "request.path", "request.headers",
                "request.cookies", "search_path")
CONTEXT_PARAMS = len(CONTEXT_GUCS)
_SET_CONTEXT_CALLS = tuple(
    f"set_config('{name}', ${i}, true)" for i, name in enumerate(CONTEXT_GUCS, start=1)
)
SET_CONTEXT = ", ".join(_SET_CONTEXT_CALLS)  # as select columns (transaction.SET_CONTEXT_SQL)
RESPONSE_GUCS = (
    "nullif(current_setting('response.headers', true), ''), "
    "nullif(current_setting('response.status', true), '')"
)
STREAM_MIN_ROWS = 10_000  # stream results of functions declared ROWS >= this (and no smaller limit)

_COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_PATTERNS = {"like": "like", "ilike": "ilike", "match": "~", "imatch": "~*"}
_IS = {"null": "is null", "not_null": "is not null", "true": "is true", "false": "is false",
       "unknown": "is unknown"}
_CASTS = {
    "text": "text", "int": "integer", "integer": "integer", "int4": "integer",
    "bigint": "bigint", "int8": "bigint", "smallint": "smallint", "numeric": "numeric",
    "float": "double precision", "float8": "double precision", "double precision":
    "double precision", "float4": "real", "real": "real", "boolean": "boolean",
    "bool": "boolean", "date": "date", "timestamp": "timestamp",
    "timestamptz": "timestamp with time zone", "json": "json", "jsonb": "jsonb", "uuid": "uuid",
}


class PlanConfig(msgspec.Struct, frozen=True):
    max_rows: int | None = None  # PGRST_DB_MAX_ROWS
    pre_request: tuple[str, str] | None = None  # (schema, name) of PGRST_DB_PRE_REQUEST
    tx_end: str = "commit"  # PGRST_DB_TX_END


class Plan(msgspec.Struct, frozen=True):
    function: Function
    sql: str
    params: tuple[Any, ...]  # values for $7 onwards
    read_only: bool
    rollback: bool  # end the transaction with ROLLBACK (Prefer: tx=rollback / PGRST_DB_TX_END)
    explicit_tx: bool  # needs BEGIN … COMMIT (writes, rollback, streaming); else one statement
    streaming: bool  # sql yields one pre-rendered row per result row, read with a cursor
    media: Media
    offset: int
    stream_prefix: bytes = b""
    stream_separator: bytes = b","
    stream_suffix: bytes = b""

    @property
    def singular(self) -> bool:
        return self.media == "object"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pre_request_name(setting: str | None, default_schema: str) -> tuple[str, str] | None:
    """``PGRST_DB_PRE_REQUEST`` (``schema.fn`` or ``fn``) as (schema, name)."""
    if not setting:
        return None
    schema, dot, name = setting.rpartition(".")
    return (schema.strip('"'), name.strip('"')) if dot else (default_schema, name.strip('"'))


# --- function resolution ----------------------------------------------------------------------


def resolve_function(request: RpcRequest, cache: SchemaCache) -> Function:
    """The overload the request calls: by the set of argument names (PGRST202 / PGRST203)."""
    overloads = cache.overloads(request.schema, request.function)
    keys = frozenset(request.arg_names)
    if request.body_kind in ("text", "binary"):
        wanted = ("text", "xml") if request.body_kind == "text" else ("bytea",)
        matches = [f for f in overloads
                   if f.single_unnamed is not None and f.single_unnamed.type in wanted]
    else:
        matches = [f for f in overloads if f.single_unnamed is None
                   and keys <= f.arg_names and f.required_args <= keys]
        if not matches and request.body_kind == "json":
            matches = [f for f in overloads if f.single_unnamed is not None
                       and f.single_unnamed.type in ("json", "jsonb")]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise AmbiguousRpc([f.signature() for f in matches])
    names = list(request.arg_names) if request.body_kind not in ("text", "binary") else []
    raise NoRpc(
        request.schema, request.function, names, is_post_json=request.body_kind == "json",
        hint=_no_rpc_hint(request, cache, overloads),
    )


def _no_rpc_hint(
    request: RpcRequest, cache: SchemaCache, overloads: Sequence[Function]
) -> str | None:
    prefix = f"Perhaps you meant to call the function {request.schema}."
    if not overloads:
        close = difflib.get_close_matches(
            request.function, cache.names_in(request.schema), n=1, cutoff=0.75
        )
        return prefix + close[0] if close else None
    def as_text(names: Sequence[str]) -> str:
        return "(" + ", ".join(sorted(names)) + ")"
    options = [as_text([a.name for a in f.args]) for f in overloads]
    close = difflib.get_close_matches(as_text(request.arg_names), options, n=1, cutoff=0.33)
    return prefix + request.function + (close[0] if close else options[0])


# --- the statement --------------------------------------------------------------------------


class _Params:
    """Bind parameters after the context ones; ``add`` returns the placeholder."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${CONTEXT_PARAMS + len(self.values)}"


def plan_call(request: RpcRequest, cache: SchemaCache, config: PlanConfig) -> Plan:
    fn = resolve_function(request, cache)
    params = _Params()
    read_only = request.method in ("GET", "HEAD") or fn.volatility != "volatile"
    rollback = _rollback(request, config.tx_end)
    from_clause = _from_clause(request, fn, params)
    gate = _gate(read_only, config.pre_request)
    where = [gate, *(_condition(f, fn, params) for f in request.filters)]
    order = _order(request, fn)
    limit = request.limit
    if config.max_rows is not None:
        limit = config.max_rows if limit is None else min(limit, config.max_rows)
    page = ""
    if limit is not None:
        page += f" limit {params.add(limit)}"
    if request.offset:
        page += f" offset {params.add(request.offset)}"
    columns = _columns(request, fn)
    streaming = (
        fn.returns_set and not request.count_exact and request.media != "object"
        and fn.rows_estimate >= STREAM_MIN_ROWS
        and (limit is None or limit > STREAM_MIN_ROWS)
    )
    plain = _plain(fn, columns)
    # the catalog's own column names when the result is the function's columns (so
    # json_agg(_p) gives the keys); positional names otherwise (aliases are bind parameters)
    inner_cols = ", ".join(
        f"{expr} as {quote_ident(name) if plain else f'_c{i}'}"
        for i, (name, expr) in enumerate(columns)
    ) or "1"
    where_sql = " and ".join(where)
    if streaming:
        row = _row_expr(request.media, fn, columns, params, plain)
        sql = (f"select convert_to({row}, 'UTF8') from (select {inner_cols} from {from_clause}"
               f" where {where_sql}{order}{page}) as _p")
        if request.media == "csv":
            prefix = (_csv_header(columns) + "\n").encode()
            sep, suffix = b"\n", b""
        else:
            prefix, sep, suffix = b"[", b",", b"]"
        return Plan(fn, sql, tuple(params.values), read_only, rollback, True, True,
                    request.media, request.offset, prefix, sep, suffix)
    body = _body_expr(request.media, fn, columns, params, plain)
    if request.count_exact:
        sql = (f"with _s as (select _f.* from {from_clause} where {where_sql}) "
               f"select count(*)::int8, {body}, (select count(*) from _s)::int8, "
               f"{RESPONSE_GUCS} from (select {inner_cols} from _s as _f{order}{page}) as _p")
    else:
        sql = (f"select count(*)::int8, {body}, null::int8, {RESPONSE_GUCS} "
               f"from (select {inner_cols} from {from_clause} where {where_sql}{order}{page})"
               " as _p")
    explicit = not read_only or rollback
    return Plan(fn, sql, tuple(params.values), read_only, rollback, explicit, False,
                request.media, request.offset)



def _rollback(request: RpcRequest, tx_end: str) -> bool:
    default = tx_end.startswith("rollback")
    if tx_end.endswith("allow-override") and request.tx_rollback is not None:
        return request.tx_rollback
    return default


@functools.cache
def _gate(read_only: bool, pre_request: tuple[str, str] | None) -> str:
    """A one-time filter evaluated before the function runs (a gating Result node); built
    once per (read_only, pre_request).

    CASE guarantees the set_config calls finish before the pre-request function runs.
    """
    settings = " || ".join(_SET_CONTEXT_CALLS)
    if read_only:
        settings += " || set_config('transaction_read_only', 'on', true)"
    then = "true"
    if pre_request is not None:
        then = (f"(select true from {quote_ident(pre_request[0])}."
                f"{quote_ident(pre_request[1])}() as _pre)")
    return f"(select case when ({settings}) is null then false else {then} end)"


def _from_clause(request: RpcRequest, fn: Function, params: _Params) -> str:
    call = f"{quote_ident(fn.schema)}.{quote_ident(fn.name)}"
    alias = "_f" if fn.shape in ("composite", "setof_composite") else (
        f"_f({quote_ident(fn.name)})")
    unnamed = fn.single_unnamed
    if unnamed is not None:
        if request.body_kind == "json":
            value: Any = (request.json_body or b"{}").decode()
        elif request.body_kind == "binary":
            value = request.raw_body or b""
        else:
            value = (request.raw_body or b"").decode("utf-8", "replace")
        placeholder = params.add(value)
        cast = "bytea" if unnamed.type == "bytea" else unnamed.type
        source = "text" if unnamed.type != "bytea" else "bytea"
        return f"{call}({placeholder}::{source}::{cast}) as {alias}"
    supplied = [a for a in fn.args if a.name in request.arg_names]
    if not supplied:
        return f"{call}() as {alias}"
    if request.body_kind == "json":
        args_json = (request.json_body or b"{}").decode()
    else:
        args_json = args_as_json(request, [a.name for a in fn.args if a.variadic]).decode()
    record_cols = ", ".join(f"{quote_ident(a.name)} {a.type}" for a in supplied)
    call_args = ", ".join(
        f"{'variadic ' if a.variadic else ''}{quote_ident(a.name)} := _a.{quote_ident(a.name)}"
        for a in supplied
    )
    return (f"json_to_record({params.add(args_json)}::json) as _a({record_cols}), "
            f"lateral {call}({call_args}) as {alias}")


def _column(fn: Function, name: str) -> Column:
    col = fn.column(name)
    if col is None:
        raise ColumnNotFound(fn.name, name)
    return col


def _condition(term: Filter | Logic, fn: Function, params: _Params) -> str:
    if isinstance(term, Logic):
        joined = f" {term.operator} ".join(_condition(t, fn, params) for t in term.terms)
        sql = f"({joined or 'true'})"
        return f"not {sql}" if term.negated else sql
    col = _column(fn, term.column)
    ref = f"_f.{quote_ident(col.name)}"
    op = term.operator
    if op in _COMPARISONS:
        sql = f"{ref} {_COMPARISONS[op]} {params.add(_text(term.value))}::text::{col.type}"
    elif op in _PATTERNS:
        value = _text(term.value)
        if op in ("like", "ilike"):
            value = value.replace("*", "%")
        sql = f"{ref}::text {_PATTERNS[op]} {params.add(value)}::text"
    elif op == "in":
        values = list(term.value) if isinstance(term.value, tuple) else [term.value]
        sql = f"{ref} = any({params.add(values)}::text[]::{_array_of(col.type)})"
    elif op == "is":
        sql = f"{ref} {_IS[_text(term.value)]}"
    elif op == "isdistinct":
        sql = f"{ref} is distinct from {params.add(_text(term.value))}::text::{col.type}"
    else:  # pragma: no cover - parse only produces the operators above
        raise QueryParamError(f"unknown operator {op}")
    return f"not ({sql})" if term.negated else sql


def _text(value: str | tuple[str, ...]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def _array_of(type_name: str) -> str:
    return type_name if type_name.endswith("[]") else f"{type_name}[]"


def _order(request: RpcRequest, fn: Function) -> str:
    if not request.order:
        return ""
    terms = []
    for term in request.order:
        col = _column(fn, term.column)
        sql = f"_f.{quote_ident(col.name)} {'desc' if term.descending else 'asc'}"
        if term.nulls:
            sql += f" nulls {term.nulls}"
        terms.append(sql)
    return " order by " + ", ".join(terms)


def _columns(request: RpcRequest, fn: Function) -> list[tuple[str, str]]:
    """(output name, SQL expression over ``_f``) of each result column."""
    if fn.shape == "void":
        return [(fn.name, f"_f.{quote_ident(fn.name)}")]
    items: Sequence[SelectItem] = request.select or (SelectItem("*"),)
    if fn.shape in ("scalar", "setof_scalar"):
        items = (SelectItem("*"),)  # select= does not apply to scalar results
    out: list[tuple[str, str]] = []
    for item in items:
        if item.column == "*":
            out.extend((c.name, f"_f.{quote_ident(c.name)}") for c in fn.columns)
            continue
        col = _column(fn, item.column)
        expr = f"_f.{quote_ident(col.name)}"
        if item.cast:
            expr = f"({expr})::{_CASTS[item.cast]}"
        out.append((item.alias or col.name, expr))
    return out


def _plain(fn: Function, columns: list[tuple[str, str]]) -> bool:
    """Are the columns exactly the function's (so ``json_agg(_p)`` has the right keys)?"""
    return [name for name, _ in columns] == [c.name for c in fn.columns] and not any(
        "::" in expr for _, expr in columns
    )


def _object_expr(fn: Function, columns: list[tuple[str, str]], params: _Params) -> str:
    """One result row as a JSON object; keys are bind parameters (aliases come from the URL)."""
    pairs = ", ".join(f"{params.add(name)}::text, _p._c{i}" for i, (name, _) in enumerate(columns))
    return f"json_build_object({pairs})"


def _refs(columns: list[tuple[str, str]], plain: bool) -> list[str]:
    return [f"_p.{quote_ident(name)}" if plain else f"_p._c{i}"
            for i, (name, _) in enumerate(columns)]


def _body_expr(media: Media, fn: Function, columns: list[tuple[str, str]],
               params: _Params, plain: bool) -> str:
    if fn.shape == "void":
        return "null::bytea"
    if media == "csv":
        header = params.add(_csv_header(columns))
        row = _csv_row(_refs(columns, plain))
        return (f"convert_to({header}::text || coalesce(E'\\n' || string_agg({row}, E'\\n'), ''),"
                " 'UTF8')")
    if fn.shape in ("scalar", "setof_scalar"):
        agg = f"json_agg({_refs(columns, plain)[0]})"
    elif plain:
        agg = "json_agg(_p)"
    else:
        agg = f"json_agg({_object_expr(fn, columns, params)})"
    if fn.shape in ("scalar", "composite") or media == "object":
        return f"convert_to(coalesce(({agg} -> 0)::text, 'null'), 'UTF8')"
    return f"convert_to(coalesce({agg}, '[]')::text, 'UTF8')"


def _row_expr(media: Media, fn: Function, columns: list[tuple[str, str]],
              params: _Params, plain: bool) -> str:
    """One pre-rendered row (streaming): JSON text or a CSV line."""
    if media == "csv":
        return _csv_row(_refs(columns, plain))
    if fn.shape == "setof_scalar":
        return f"coalesce(to_json({_refs(columns, plain)[0]})::text, 'null')"
    if plain:
        return "row_to_json(_p)::text"
    return f"{_object_expr(fn, columns, params)}::text"


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
