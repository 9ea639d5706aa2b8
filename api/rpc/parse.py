"""Stage 2 of the pipeline: an HTTP request → ``RpcRequest``. Pure: no I/O, no database.

Follows PostgREST's ApiRequest/QueryParams: reserved query keys (select, order, limit,
offset, and, or, columns), filters (``col=[not.]op.value``), arguments (everything else on
GET/HEAD, the JSON or form body on POST), ``Range``, ``Prefer``, ``Accept`` and the
profile headers. Whether an argument list fits a function is the plan stage's business.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal
from urllib.parse import parse_qsl

import msgspec

from api.errors import (
    InvalidBody,
    InvalidRange,
    InvalidRpcMethod,
    MediaTypeError,
    QueryParamError,
    UnacceptableSchema,
)
from api.rpc.preferences import Preferences, parse_prefer

Media = Literal["json", "object", "csv", "text", "xml", "binary"]  # raw: scalar results only
Method = Literal["GET", "HEAD", "POST"]
BodyKind = Literal["none", "json", "form", "text", "xml", "binary"]

RESERVED_KEYS = frozenset(("select", "order", "limit", "offset", "and", "or", "columns"))
OPERATORS = frozenset(
    ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "in", "is",
     "isdistinct")
)
IS_VALUES = frozenset(("null", "not_null", "true", "false", "unknown"))
MEDIA_JSON = "application/json"
MEDIA_OBJECT = "application/vnd.pgrst.object+json"
MEDIA_CSV = "text/csv"
_MEDIA_BY_TYPE: dict[str, Media] = {
    MEDIA_JSON: "json", "application/*": "json", "*/*": "json",
    MEDIA_OBJECT: "object", "application/vnd.pgrst.object": "object",
    MEDIA_CSV: "csv", "text/*": "csv",
    "text/plain": "text", "text/xml": "xml", "application/octet-stream": "binary",
}
RAW_MEDIA: dict[Media, str] = {  # PostgREST's raw handlers: a scalar result's bytes as they are
    "text": "text/plain", "xml": "text/xml", "binary": "application/octet-stream",
}
_RANGE_RE = re.compile(r"^\s*(?:items=)?(\d+)-(\d*)\s*$")
_CAST_TYPES = frozenset(
    ("text", "int", "integer", "int4", "bigint", "int8", "smallint", "numeric", "float",
     "float4", "float8", "real", "double precision", "boolean", "bool", "date", "timestamp",
     "timestamptz", "json", "jsonb", "uuid")
)


class Filter(msgspec.Struct, frozen=True):
    column: str
    operator: str
    value: str | tuple[str, ...]  # a tuple for ``in``
    negated: bool = False


class Logic(msgspec.Struct, frozen=True):
    """``and=(…)`` / ``or=(…)``: a tree of filters."""

    operator: Literal["and", "or"]
    terms: tuple[Filter | Logic, ...]
    negated: bool = False


class OrderTerm(msgspec.Struct, frozen=True):
    column: str
    descending: bool = False
    nulls: Literal["first", "last"] | None = None


class SelectItem(msgspec.Struct, frozen=True):
    column: str  # "*" for every column
    alias: str | None = None
    cast: str | None = None


class HttpInput(msgspec.Struct, frozen=True):
    """What the parse stage needs of an HTTP request; header names lower case."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes = b""


class RpcRequest(msgspec.Struct, frozen=True):
    method: Method
    schema: str
    function: str
    args: Mapping[str, tuple[str, ...]]  # GET/HEAD/form: every value given for a key
    body_kind: BodyKind = "none"
    json_body: bytes | None = None  # POST JSON: the object (array body: its first element)
    json_keys: tuple[str, ...] = ()  # the keys of ``json_body``
    raw_body: bytes | None = None  # POST text/plain, text/xml or octet-stream
    filters: tuple[Filter | Logic, ...] = ()
    select: tuple[SelectItem, ...] | None = None
    order: tuple[OrderTerm, ...] = ()
    offset: int = 0
    limit: int | None = None  # None = unbounded
    media: Media = "json"
    media_fallbacks: tuple[Media, ...] = ()  # the other acceptable ones, preferred first
    preferences: Preferences = Preferences()

    @property
    def arg_names(self) -> tuple[str, ...]:
        if self.body_kind == "json":
            return self.json_keys
        return tuple(self.args)


def parse_request(http: HttpInput, function: str, schemas: Sequence[str]) -> RpcRequest:
    """The request for ``/rpc/<function>``; raises ``ApiError`` for what cannot be parsed."""
    method = http.method.upper()
    if method not in ("GET", "HEAD", "POST"):
        raise InvalidRpcMethod(method)
    headers = http.headers
    schema = parse_profile(method, headers, schemas)
    acceptable = acceptable_media(headers.get("accept"))
    preferences = parse_prefer(headers.get("prefer"))
    params = parse_qsl(http.query_string, keep_blank_values=True)
    filters: list[Filter | Logic] = []
    args: dict[str, list[str]] = {}
    select: tuple[SelectItem, ...] | None = None
    order: tuple[OrderTerm, ...] = ()
    q_limit: int | None = None
    q_offset: int | None = None
    columns: tuple[str, ...] | None = None
    for key, value in params:
        if key == "select":
            select = parse_select(value)
        elif key == "order":
            order = parse_order(value)
        elif key == "limit":
            q_limit = _non_negative_int(key, value, negative=InvalidRange.negative_limit())
        elif key == "offset":
            q_offset = _non_negative_int(key, value, negative=None)
        elif key in ("and", "or") or key in ("not.and", "not.or"):
            filters.append(parse_logic(key, value))
        elif key == "columns":
            columns = parse_columns(value)
        elif is_filter(value) or _is_full_text(value):
            filters.append(parse_filter(key, value))
        elif method == "POST":
            raise QueryParamError(
                f'"failed to parse filter ({value})" (line 1, column 1)',
                f"unexpected {value[:1]!r} expecting operator (eq, gt, ...)",
            )
        else:
            args.setdefault(key, []).append(value)
    body_kind: BodyKind = "none"
    json_body: bytes | None = None
    json_keys: tuple[str, ...] = ()
    raw_body: bytes | None = None
    if method == "POST":
        ctype = (headers.get("content-type") or MEDIA_JSON).split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            body_kind = "form"
            for key, value in parse_qsl(http.body.decode("utf-8", "replace"),
                                        keep_blank_values=True):
                args.setdefault(key, []).append(value)
        elif ctype == MEDIA_CSV:  # a header line and rows: the first row's values
            body_kind = "form"
            for key, value in parse_csv_body(http.body).items():
                args.setdefault(key, []).append(value)
        elif ctype == "text/plain":
            body_kind, raw_body = "text", http.body
        elif ctype == "text/xml":
            body_kind, raw_body = "xml", http.body
        elif ctype == "application/octet-stream":
            body_kind, raw_body = "binary", http.body
        else:
            body_kind = "json"
            json_body, json_keys = parse_json_body(http.body, columns)
    # PostgREST reads Range on GET only (POST and HEAD page with limit/offset alone)
    range_header = headers.get("range") if method == "GET" else None
    offset, limit = _range(range_header, q_offset, q_limit)
    return RpcRequest(
        method=method,  # type: ignore[arg-type]
        schema=schema, function=function,
        args={k: tuple(v) for k, v in args.items()},
        body_kind=body_kind, json_body=json_body, json_keys=json_keys, raw_body=raw_body,
        filters=tuple(filters), select=select, order=order, offset=offset, limit=limit,
        media=acceptable[0], media_fallbacks=acceptable[1:], preferences=preferences,
    )


# --- headers --------------------------------------------------------------------------------


def parse_profile(method: str, headers: Mapping[str, str], schemas: Sequence[str]) -> str:
    """The schema a request is for: ``Content-Profile`` for POST, else ``Accept-Profile``
    (``headers`` with lower-case names), the first exposed one when absent; 406 otherwise."""
    name = "content-profile" if method == "POST" else "accept-profile"
    value = headers.get(name)
    if value is None:
        return schemas[0]
    value = value.strip()
    if value not in schemas:
        raise UnacceptableSchema(value, schemas)
    return value


def parse_accept(accept: str | None) -> Media:
    """The media type to answer with: the acceptable one the client prefers most."""
    return acceptable_media(accept)[0]


def acceptable_media(accept: str | None) -> tuple[Media, ...]:
    """Every media type we can produce that ``accept`` takes, most preferred first (406
    when none): the plan falls back past a raw type the function's result cannot give."""
    if accept is None or not accept.strip():
        return ("json",)
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        mtype = fields[0].lower()
        quality = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if mtype:
            choices.append((-quality, position, mtype))
    found = tuple(dict.fromkeys(
        _MEDIA_BY_TYPE[mtype] for neg_quality, _, mtype in sorted(choices)
        if neg_quality < 0 and mtype in _MEDIA_BY_TYPE
    ))
    if found:
        return found
    raise MediaTypeError([c[2] for c in sorted(choices, key=lambda c: c[1])])


def _range(
    header: str | None, q_offset: int | None, q_limit: int | None
) -> tuple[int, int | None]:
    """Offset and limit from ``limit``/``offset`` intersected with a ``Range: a-b`` header."""
    lower = q_offset or 0
    upper = None if q_limit is None else lower + q_limit - 1
    if header:
        match = _RANGE_RE.match(header)
        if match:
            h_lower = int(match.group(1))
            h_upper = int(match.group(2)) if match.group(2) else None
            if h_upper is not None and h_lower > h_upper:
                raise InvalidRange.lower_gt_upper()
            lower = max(lower, h_lower)
            if h_upper is not None:
                upper = h_upper if upper is None else min(upper, h_upper)
    if upper is None:
        return lower, None
    return lower, max(upper - lower + 1, 0)


def _non_negative_int(key: str, value: str, negative: InvalidRange | None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise QueryParamError(
            f'"failed to parse {key} ({value})" (line 1, column 1)', "expecting a number"
        ) from None
    if number < 0:
        if negative is not None:
            raise negative
        raise QueryParamError(
            f'"failed to parse {key} ({value})" (line 1, column 1)', "expecting a number"
        )
    return number


# --- body ----------------------------------------------------------------------------------


def parse_json_body(
    body: bytes, columns: Sequence[str] | None = None
) -> tuple[bytes, tuple[str, ...]]:
    """The argument object of a JSON body: ``{}`` when empty, the first element of an array.
    With ``?columns=`` the arguments are exactly those columns: other keys are ignored and a
    column missing from the body is passed as null (PostgREST's ``iColumns``)."""
    if columns is not None:
        obj, _ = parse_json_body(body)
        value = msgspec.json.decode(obj)
        picked = {name: value[name] for name in columns if name in value}
        return msgspec.json.encode(picked), tuple(columns)
    if not body.strip():
        return b"{}", ()
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise InvalidBody() from None
    except RecursionError:  # msgspec's nesting limit (about 1,000 levels): not a 500
        raise InvalidBody("Empty or invalid json: nested too deeply") from None
    if isinstance(value, list):
        value = value[0] if value else {}
        if not isinstance(value, dict):
            raise InvalidBody()
        return msgspec.json.encode(value), tuple(value)
    if not isinstance(value, dict):
        raise InvalidBody()
    return body, tuple(value)


# --- query parameters ---------------------------------------------------------------------


def parse_csv_body(body: bytes) -> dict[str, str]:
    """A CSV body's arguments: the header line names them, the first row gives their values
    (as PostgREST takes the first object of a body that holds several)."""
    try:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error):
        raise InvalidBody("Invalid CSV body") from None
    if not rows:
        return {}
    header, first = rows[0], (rows[1] if len(rows) > 1 else [])
    if len(first) > len(header):
        raise InvalidBody("Invalid CSV body: a row has more fields than the header")
    return dict(zip(header, first, strict=False))


def parse_columns(value: str) -> tuple[str, ...]:
    """``?columns=a,b`` (names may be double-quoted): the argument names a POST body gives."""
    names = tuple(dict.fromkeys(n.strip() for n in _split_top(value, keep_quotes=False)))
    if not all(names):
        raise QueryParamError(
            f'"failed to parse columns parameter ({value})" (line 1, column 1)',
            "expecting a column name",
        )
    return names


_FULL_TEXT = ("fts", "plfts", "phfts", "wfts")


def _is_full_text(value: str) -> bool:
    head = value[4:] if value.startswith("not.") else value
    return head.split(".", 1)[0].split("(", 1)[0] in _FULL_TEXT and "." in head


def _refuse_full_text(value: str) -> None:
    """Full-text filters (``fts``, ``plfts``, ``phfts``, ``wfts``) are not implemented: a
    clear 400, never an argument named like the column."""
    if _is_full_text(value):
        raise QueryParamError(
            f'"failed to parse filter ({value})" (line 1, column 1)',
            "full-text search filters (fts, plfts, phfts, wfts) are not supported",
        )


def is_filter(value: str) -> bool:
    """Does a query parameter value read as ``[not.]op.value``?"""
    head, dot, _ = value.partition(".")
    if head == "not":
        head, dot, _ = value[4:].partition(".")
    # a bare ``eq`` (no dot) is an ordinary argument value
    return head in OPERATORS and bool(dot)


def parse_filter(column: str, value: str) -> Filter:
    column = column.strip()
    _refuse_full_text(value)
    if not column:
        raise QueryParamError('"failed to parse filter" (line 1, column 1)', "empty column name")
    negated = value.startswith("not.")
    rest = value[4:] if negated else value
    operator, _, operand = rest.partition(".")
    if operator not in OPERATORS:
        raise QueryParamError(
            f'"failed to parse filter ({value})" (line 1, column 1)',
            f"unknown operator {operator!r}",
        )
    if operator == "in":
        return Filter(column, operator, parse_list(value, operand), negated)
    if operator == "is" and operand.lower() not in IS_VALUES:
        raise QueryParamError(
            f'"failed to parse filter ({value})" (line 1, column {len(value) - len(operand) + 1})',
            "expecting null, not_null, true, false or unknown",
        )
    return Filter(column, operator, operand.lower() if operator == "is" else operand, negated)


def parse_list(original: str, operand: str) -> tuple[str, ...]:
    """``(a,b,"c,d")`` → ``("a", "b", "c,d")``."""
    if not (operand.startswith("(") and operand.endswith(")")):
        raise QueryParamError(
            f'"failed to parse filter ({original})" (line 1, column 1)', "expecting \"(\""
        )
    return tuple(_split_top(operand[1:-1], keep_quotes=False)) if operand[1:-1] else ()


def _split_top(text: str, *, keep_quotes: bool) -> list[str]:
    """Split on commas outside double quotes and parentheses; unquote ``"…"`` items."""
    items: list[str] = []
    buf: list[str] = []
    depth = 0
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                quoted = False
                if keep_quotes:
                    buf.append(ch)
            else:
                buf.append(ch)
        elif ch == '"':
            quoted = True
            if keep_quotes:
                buf.append(ch)
        elif ch == "(":
            depth += 1
            buf.append(ch)
        elif ch == ")":
            depth -= 1
            buf.append(ch)
        elif ch == "," and depth == 0:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quoted or depth != 0:
        raise QueryParamError(
            f'"failed to parse logic tree ({text})" (line 1, column {len(text) + 1})',
            "unexpected end of input",
        )
    items.append("".join(buf))
    return items


MAX_LOGIC_DEPTH = 32  # and/or nesting; deeper trees are refused (400) before any recursion
_LOGIC_HEADS = frozenset(("and", "or", "not.and", "not.or"))


class _LogicFrame:
    """An ``and(…)``/``or(…)`` being read by ``parse_logic``."""

    __slots__ = ("negated", "operator", "terms")

    def __init__(self, head: str) -> None:
        self.negated = head.startswith("not.")
        self.operator = head[4:] if self.negated else head
        self.terms: list[Filter | Logic] = []

    def logic(self) -> Logic:
        return Logic(self.operator, tuple(self.terms), self.negated)  # type: ignore[arg-type]


def parse_logic(key: str, value: str) -> Logic:
    """``or=(a.eq.1,and(b.gt.2,c.is.null))`` → a ``Logic`` tree.

    One pass over ``value`` with an explicit stack (no recursion), so the cost is linear in
    its length and a tree deeper than ``MAX_LOGIC_DEPTH`` is a 400, never a RecursionError.
    Inside an item, double quotes protect ``,()`` (a backslash escapes the next character)
    and parentheses of a filter value (``in.(1,2)``) are kept with the item.
    """

    def fail(details: str) -> QueryParamError:
        return QueryParamError(
            f'"failed to parse logic tree ({value})" (line 1, column 1)', details
        )

    if not (value.startswith("(") and value.endswith(")")):
        raise fail('expecting "("')
    stack = [_LogicFrame(key)]
    buf: list[str] = []  # the current item
    item_depth = 0  # parentheses open inside the current item
    item_done = False  # the current item was an and(…)/or(…), closed
    quoted = False
    root: Logic | None = None

    def end_item() -> None:
        nonlocal buf, item_done
        item = "".join(buf).strip()
        buf = []
        if item_done:
            if item:
                raise fail(f"unexpected {item!r} after a logic tree")
            item_done = False
            return
        stack[-1].terms.append(_logic_filter(item, fail))

    i, end = 1, len(value)
    while i < end:
        ch = value[i]
        i += 1
        if quoted:
            if ch == "\\" and i < end:
                buf.append(value[i])
                i += 1
                continue
            quoted = ch != '"'
            buf.append(ch)
        elif ch == '"':
            quoted = True
            buf.append(ch)
        elif ch == "(":
            head = "".join(buf).strip() if item_depth == 0 and not item_done else ""
            if head in _LOGIC_HEADS:
                if len(stack) >= MAX_LOGIC_DEPTH:
                    raise fail(f"logic trees nest at most {MAX_LOGIC_DEPTH} levels deep")
                stack.append(_LogicFrame(head))
                buf = []
            else:
                item_depth += 1
                buf.append(ch)
        elif ch == ")" and item_depth > 0:
            item_depth -= 1
            buf.append(ch)
        elif ch == ")":
            end_item()
            frame = stack.pop()
            if not stack:
                root = frame.logic()
                break
            stack[-1].terms.append(frame.logic())
            item_done = True
        elif ch == "," and item_depth == 0:
            end_item()
        else:
            buf.append(ch)
    if root is None or i != end:
        raise fail("unexpected end of input" if root is None else "unexpected text after \")\"")
    return root


def _logic_filter(item: str, fail: Callable[[str], QueryParamError]) -> Filter:
    """One ``column.[not.]op.value`` item of a logic tree; ``"…"`` values unquoted."""
    column, dot, rest = item.partition(".")
    if not dot or not is_filter(rest):
        raise fail(f"unexpected {item!r} expecting a filter")
    flt = parse_filter(column, rest)
    if isinstance(flt.value, str) and flt.value.startswith('"') and flt.value.endswith('"'):
        flt = Filter(flt.column, flt.operator, flt.value[1:-1], flt.negated)
    return flt


def parse_order(value: str) -> tuple[OrderTerm, ...]:
    terms: list[OrderTerm] = []
    for raw in value.split(","):
        parts = raw.strip().split(".")
        column = parts[0]
        if not column:
            raise QueryParamError(
                f'"failed to parse order ({value})" (line 1, column 1)', "expecting a column"
            )
        descending = False
        nulls: Literal["first", "last"] | None = None
        for modifier in parts[1:]:
            if modifier in ("asc", "desc"):
                descending = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls = "first" if modifier == "nullsfirst" else "last"
            else:
                raise QueryParamError(
                    f'"failed to parse order ({value})" (line 1, column {len(column) + 2})',
                    f"unexpected {modifier!r} expecting asc, desc, nullsfirst or nullslast",
                )
        terms.append(OrderTerm(column, descending, nulls))
    return tuple(terms)


def parse_select(value: str) -> tuple[SelectItem, ...]:
    items: list[SelectItem] = []
    for raw in _split_top(value, keep_quotes=False):
        text = raw.strip()
        if not text:
            continue
        alias: str | None = None
        if ":" in text.replace("::", "\0"):
            alias, _, text = text.replace("::", "\0").partition(":")
            alias, text = alias.replace("\0", "::").strip(), text.replace("\0", "::")
        column, _, cast = text.partition("::")
        column, cast = column.strip(), cast.strip().lower()
        if "(" in column or not column:
            raise QueryParamError(
                f'"failed to parse select parameter ({value})" (line 1, column 1)',
                "embedding and aggregates are not available on RPC results",
            )
        if cast and cast not in _CAST_TYPES:
            raise QueryParamError(
                f'"failed to parse select parameter ({value})" (line 1, column 1)',
                f"unsupported cast {cast!r}",
            )
        items.append(SelectItem(column, alias or None, cast or None))
    return tuple(items)
