"""Stage 3 of the pipeline: ``RpcRequest`` + ``SchemaCache`` → a typed ``CallPlan``.

Pure: no I/O, no SQL. The plan says *what* to run — the overload, the arguments bound to
its parameters, the filters, output columns and order checked against its result columns,
the page, the transaction mode, the media type, and whether the result is streamed; the
query stage (:mod:`api.rpc.query`) renders it as SQL. A plan is a frozen, hashable value
whose parts are normalised (arguments sorted by name, the row cap applied to the page),
so equal requests give equal plans: a response cache or a replica router can key on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from api.config import QualifiedName, TxEnd
from api.errors import (
    AmbiguousRpc,
    ColumnNotFound,
    MaxAffectedRpcViolation,
    MediaTypeError,
    NoRpc,
)
from api.rpc.parse import RAW_MEDIA, Filter, Logic, Media, OrderTerm, RpcRequest, SelectItem
from api.rpc.schema_cache import Arg, Column, Function, SchemaCache

STREAM_MIN_ROWS = 10_000  # stream results of functions declared ROWS >= this (and no smaller limit)

# select=col::cast → the SQL type it casts to
CASTS = {
    "text": "text", "int": "integer", "integer": "integer", "int4": "integer",
    "bigint": "bigint", "int8": "bigint", "smallint": "smallint", "numeric": "numeric",
    "float": "double precision", "float8": "double precision", "double precision":
    "double precision", "float4": "real", "real": "real", "boolean": "boolean",
    "bool": "boolean", "date": "date", "timestamp": "timestamp",
    "timestamptz": "timestamp with time zone", "json": "json", "jsonb": "jsonb", "uuid": "uuid",
}


class PlanConfig(msgspec.Struct, frozen=True):
    max_rows: int | None = None  # PGRST_DB_MAX_ROWS
    pre_request: QualifiedName | None = None  # PGRST_DB_PRE_REQUEST, schema filled in
    tx_end: TxEnd = TxEnd.COMMIT  # PGRST_DB_TX_END


# --- the plan ------------------------------------------------------------------------------


ArgValue = str | tuple[str, ...]  # a query-string/form value; every value of a variadic one


class QueryArgs(msgspec.Struct, frozen=True):
    """GET/HEAD query string or form body: (name, value) sorted by name; the last value of
    a repeated argument wins, a variadic one takes them all."""

    values: tuple[tuple[str, ArgValue], ...]


class JsonArgs(msgspec.Struct, frozen=True):
    """A POST JSON object (an array body: its first element), passed on as sent."""

    body: bytes


class RawArg(msgspec.Struct, frozen=True):
    """The whole body for a function's single unnamed json/jsonb/text/xml/bytea parameter."""

    value: str | bytes


Arguments = QueryArgs | JsonArgs | RawArg


class OutputColumn(msgspec.Struct, frozen=True):
    """One column of the result: its name in the response, the function's column it
    shows, and the ``select=col::cast`` SQL type."""

    name: str
    column: Column
    cast: str | None = None


class Page(msgspec.Struct, frozen=True):
    offset: int = 0
    limit: int | None = None  # None = unbounded; PGRST_DB_MAX_ROWS already applied


class TxMode(msgspec.Struct, frozen=True):
    read_only: bool  # GET/HEAD, or a function that is not VOLATILE
    rollback: bool  # end with ROLLBACK (Prefer: tx=rollback / PGRST_DB_TX_END)
    prefer_tx: bool = False  # PGRST_DB_TX_END lets Prefer: tx= decide (*-allow-override)


class CallPlan(msgspec.Struct, frozen=True):
    function: Function
    args: tuple[Arg, ...]  # the parameters the request supplies, in declaration order
    arguments: Arguments | None  # their values; None: the function is called with none
    filters: tuple[Filter | Logic, ...]  # every column they name is one of the result's
    columns: tuple[OutputColumn, ...]  # () for void functions
    order: tuple[OrderTerm, ...]
    page: Page
    count: bool  # Prefer: count=… → the total goes in Content-Range
    tx: TxMode
    media: Media
    streaming: bool  # read through a COPY and sent in chunks
    pre_request: QualifiedName | None = None
    # Prefer: handling=strict, max-affected=N: more result rows → PGRST124, rolled back
    max_affected: int | None = None

    @property
    def read_only(self) -> bool:
        return self.tx.read_only

    @property
    def rollback(self) -> bool:
        return self.tx.rollback

    @property
    def explicit_tx(self) -> bool:
        """Needs BEGIN … COMMIT (writes, rollback, streaming); else one statement."""
        return self.streaming or not self.tx.read_only or self.tx.rollback

    @property
    def singular(self) -> bool:
        return self.media == "object"

    @property
    def offset(self) -> int:
        return self.page.offset

    @property
    def plain_columns(self) -> bool:
        """Are the output columns exactly the function's, uncast (so a row's JSON keys
        are the catalog's column names)?"""
        return tuple(c.name for c in self.columns) == tuple(
            c.name for c in self.function.columns
        ) and all(c.cast is None and c.column.name == c.name for c in self.columns)


# --- function resolution ----------------------------------------------------------------------


# the single unnamed parameter type a raw POST body of each kind calls (PostgREST's media)
_RAW_BODY_TYPES = {"text": "text", "xml": "xml", "binary": "bytea"}


def resolve_function(request: RpcRequest, cache: SchemaCache) -> Function:
    """The overload the request calls: by the set of argument names (PGRST202 / PGRST203)."""
    overloads = cache.overloads(request.schema, request.function)
    keys = frozenset(request.arg_names)
    raw_type = _RAW_BODY_TYPES.get(request.body_kind)
    if raw_type is not None:
        matches = [f for f in overloads
                   if f.single_unnamed is not None and f.single_unnamed.type == raw_type]
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
    if raw_type is not None:  # PostgREST names no parameters and gives no hint here
        raise NoRpc(request.schema, request.function, [], is_post_json=False, hint=None,
                    single_unnamed=raw_type)
    names = list(request.arg_names)
    raise NoRpc(
        request.schema, request.function, names, is_post_json=request.body_kind == "json",
        hint=_no_rpc_hint(request, cache, overloads),
    )


def _no_rpc_hint(
    request: RpcRequest, cache: SchemaCache, overloads: Sequence[Function]
) -> str | None:
    """PostgREST's ``noRpcHint``: the closest function name (similarity at least 0.75), or
    for a known name the closest parameter list (at least 0.33); ``None`` when none is."""
    prefix = f"Perhaps you meant to call the function {request.schema}."
    if not overloads:
        close = closest(request.function, cache.names_in(request.schema), 0.75)
        return prefix + close if close else None
    def as_text(names: Sequence[str]) -> str:
        return "(" + ", ".join(sorted(names)) + ")"
    options = [as_text([a.name for a in f.args]) for f in overloads]
    close = closest(as_text(request.arg_names), options, 0.33)
    return prefix + request.function + close if close else None


def closest(word: str, choices: Sequence[str], min_score: float) -> str | None:
    """The choice most like ``word`` (a fuzzy-set match as PostgREST's ``Fuzzy.getOne``:
    candidates share a bigram, scored by 1 - Levenshtein distance / longer length)."""
    def grams(text: str) -> set[str]:
        padded = f"-{text.lower()}-"
        return {padded[i:i + 2] for i in range(len(padded) - 1)}
    wanted = grams(word)
    best: tuple[float, str] | None = None
    for choice in choices:
        if not wanted & grams(choice):
            continue
        score = 1 - _levenshtein(word.lower(), choice.lower()) / max(len(word), len(choice), 1)
        if score >= min_score and (best is None or score > best[0]):
            best = (score, choice)
    return best[1] if best else None


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# --- the plan of a call ----------------------------------------------------------------------


def plan_call(request: RpcRequest, cache: SchemaCache, config: PlanConfig) -> CallPlan:
    fn = resolve_function(request, cache)
    media = _media(request, fn)
    read_only = request.method in ("GET", "HEAD") or fn.volatility != "volatile"
    for term in request.filters:
        _check_columns(term, fn)
    for order_term in request.order:
        _column(fn, order_term.column)
    limit = request.limit
    if config.max_rows is not None:
        limit = config.max_rows if limit is None else min(limit, config.max_rows)
    count = request.preferences.wants_count
    max_affected = request.preferences.strict_max_affected
    if max_affected is not None and not fn.returns_set:
        raise MaxAffectedRpcViolation()
    streaming = (
        fn.returns_set and not count and media != "object" and max_affected is None
        and fn.rows_estimate >= STREAM_MIN_ROWS
        and (limit is None or limit > STREAM_MIN_ROWS)
    )
    args, arguments = _arguments(request, fn)
    return CallPlan(
        function=fn, args=args, arguments=arguments, filters=request.filters,
        columns=_columns(request, fn), order=request.order, page=Page(request.offset, limit),
        count=count,
        tx=TxMode(read_only, _rollback(request, config.tx_end), config.tx_end.allow_override),
        media=media, streaming=streaming, pre_request=config.pre_request,
        max_affected=max_affected,
    )


def _media(request: RpcRequest, fn: Function) -> Media:
    """The media type of the answer: a raw one (text/plain, text/xml, octet-stream) only
    for a scalar result, else the next acceptable one; none left → 406."""
    for media in (request.media, *request.media_fallbacks):
        if media not in RAW_MEDIA or fn.shape == "scalar":
            return media
    raise MediaTypeError([RAW_MEDIA[request.media]])


def _rollback(request: RpcRequest, tx_end: TxEnd) -> bool:
    wanted = request.preferences.tx
    if tx_end.allow_override and wanted is not None:
        return wanted == "rollback"
    return tx_end.rollback


def _arguments(request: RpcRequest, fn: Function) -> tuple[tuple[Arg, ...], Arguments | None]:
    unnamed = fn.single_unnamed
    if unnamed is not None:
        if request.body_kind == "json":
            value: str | bytes = (request.json_body or b"{}").decode()
        elif request.body_kind == "binary":
            value = request.raw_body or b""
        else:
            value = (request.raw_body or b"").decode("utf-8", "replace")
        return (unnamed,), RawArg(value)
    supplied = tuple(a for a in fn.args if a.name in request.arg_names)
    if not supplied:
        return (), None
    if request.body_kind == "json":
        return supplied, JsonArgs(request.json_body or b"{}")
    variadic = {a.name for a in fn.args if a.variadic}
    values = tuple(sorted(
        (key, values if key in variadic else values[-1])
        for key, values in request.args.items()
    ))
    return supplied, QueryArgs(values)


def _column(fn: Function, name: str) -> Column:
    col = fn.column(name)
    if col is None:
        raise ColumnNotFound(fn.name, name)
    return col


def _check_columns(term: Filter | Logic, fn: Function) -> None:
    if isinstance(term, Logic):
        for inner in term.terms:
            _check_columns(inner, fn)
    else:
        _column(fn, term.column)


def _columns(request: RpcRequest, fn: Function) -> tuple[OutputColumn, ...]:
    if fn.shape == "void":
        return ()
    items: Sequence[SelectItem] = request.select or (SelectItem("*"),)
    if fn.shape in ("scalar", "setof_scalar"):
        items = (SelectItem("*"),)  # select= does not apply to scalar results
    out: list[OutputColumn] = []
    for item in items:
        if item.column == "*":
            out.extend(OutputColumn(c.name, c) for c in fn.columns)
            continue
        col = _column(fn, item.column)
        out.append(OutputColumn(item.alias or col.name, col,
                                CASTS[item.cast] if item.cast else None))
    return tuple(out)
