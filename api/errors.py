"""The closed set of errors the API answers with, and the one SQLSTATE → HTTP map.

Every error is a subclass of ``ApiError`` that names its case and carries its status,
code and extra headers; ``ApiError.render`` is the one renderer (PostgREST's body
``{"code","details","hint","message"}``, details and hint ``null`` when absent), used by
the raw ASGI senders and the Litestar exception handlers alike. Codes and wording follow
PostgREST (``src/PostgREST/Error.hs``) so clients matching on them keep working. Cases
PostgREST lacks (rate limit, size limits) use ``MRPC`` codes. Code that reacts to an
error (retry, count, log) branches on its class, never on its status number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import msgspec

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class RenderedError(msgspec.Struct, frozen=True):
    """An error as it goes on the wire: what every sender (ASGI or Litestar) writes."""

    status: int
    headers: list[tuple[str, str]]  # lower-case names, Content-Length included
    body: bytes


class ApiError(Exception):
    """An error response. Each subclass is one case: its ``status`` and ``code`` are class
    attributes (a few cases, e.g. errors raised by PostgreSQL, set them per instance);
    ``headers`` are the case's own extra headers."""

    status: int = 500
    code: str = "MRPC500"
    retryable: ClassVar[bool] = False  # the request may be retried as is (a 503 case)

    def __init__(
        self,
        message: str,
        details: str | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.hint = hint
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> bytes:
        return msgspec.json.encode(
            {"code": self.code, "details": self.details, "hint": self.hint, "message": self.message}
        )

    def response_headers(self) -> list[tuple[str, str]]:
        """Content type, ``Proxy-Status`` (as PostgREST sends it) and the case's own headers."""
        return [
            ("content-type", JSON_CONTENT_TYPE),
            ("proxy-status", f"PostgREST; error={self.code}"),
            *((k.lower(), v) for k, v in self.headers.items()),
        ]

    def render(self, extra: Sequence[tuple[str, str]] = ()) -> RenderedError:
        """The one renderer: status, headers (``extra`` ones too, e.g. ``RateLimit-*``),
        Content-Length and the PostgREST-style body."""
        body = self.body()
        headers = [*self.response_headers(), *extra, ("content-length", str(len(body)))]
        return RenderedError(self.status, headers, body)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


def _retry_after(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}


# --- connection and schema cache (PGRST0xx) ---------------------------------------------


class DatabaseUnavailable(ApiError):
    """503: the database cannot serve the request right now (shutting down, starting up,
    connection lost, out of connections); retried as is after ``Retry-After``. Raised by
    the transaction stage for asyncpg's connection errors (``DbConnectionError``) and for
    the SQLSTATEs that mean the same (08*, 53*, 57P01-57P03)."""

    status = 503
    code = "PGRST000"
    retryable = True

    def __init__(self, message: str, details: str | None = None, hint: str | None = None,
                 *, code: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, details, hint, headers=_retry_after(retry_after))
        if code is not None:
            self.code = code


class DbConnectionError(DatabaseUnavailable):
    """PGRST000: the database is unreachable; clients should retry."""

    code = "PGRST000"

    def __init__(self, details: str | None = None, retry_after: int = 1) -> None:
        super().__init__("Database connection error. Retrying the connection.", details,
                         retry_after=retry_after)


class PoolTimeout(ApiError):
    """PGRST003: no pooled connection became free within PGRST_DB_POOL_ACQUISITION_TIMEOUT."""

    status = 504
    code = "PGRST003"

    def __init__(self) -> None:
        super().__init__("Timed out acquiring connection from connection pool.")


class NoSchemaCache(ApiError):
    """PGRST002: the schema cache is not loaded (yet)."""

    status = 503
    code = "PGRST002"
    retryable = True

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("Could not query the database for the schema cache. Retrying.",
                         headers=_retry_after(retry_after))


# --- request (PGRST1xx) -----------------------------------------------------------------


class QueryParamError(ApiError):
    """PGRST100: a query parameter (filter, order, select, limit) does not parse."""

    status = 400
    code = "PGRST100"

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message, details)


class InvalidRpcMethod(ApiError):
    """PGRST101: only GET, HEAD, POST and OPTIONS reach a function."""

    status = 405
    code = "PGRST101"

    def __init__(self, method: str) -> None:
        super().__init__(f"Cannot use the {method} method on RPC")


class InvalidBody(ApiError):
    """PGRST102: the request body is not what the content type promises."""

    status = 400
    code = "PGRST102"

    def __init__(self, message: str = "Empty or invalid json") -> None:
        super().__init__(message)


class InvalidRange(ApiError):
    """PGRST103: range/limit/offset that cannot be satisfied."""

    status = 416
    code = "PGRST103"

    def __init__(self, details: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__("Requested range not satisfiable", details, headers=headers)

    @classmethod
    def out_of_bounds(cls, lower: int, total: int) -> InvalidRange:
        return cls(f"An offset of {lower} was requested, but there are only {total} rows.",
                   {"Content-Range": f"*/{total}"})

    @classmethod
    def lower_gt_upper(cls) -> InvalidRange:
        return cls(
            "The lower boundary must be lower than or equal to the upper boundary "
            "in the Range header."
        )

    @classmethod
    def negative_limit(cls) -> InvalidRange:
        return cls("Limit should be greater than or equal to zero.")


class UnacceptableSchema(ApiError):
    """PGRST106: Accept-Profile / Content-Profile names a schema that is not exposed."""

    status = 406
    code = "PGRST106"

    def __init__(self, schema: str, exposed: Sequence[str]) -> None:
        super().__init__(
            f"Invalid schema: {schema}",
            hint=f"Only the following schemas are exposed: {', '.join(exposed)}",
        )


class MediaTypeError(ApiError):
    """PGRST107: none of the accepted media types can be produced."""

    status = 406
    code = "PGRST107"

    def __init__(self, media_types: Iterable[str]) -> None:
        super().__init__(f"None of these media types are available: {', '.join(media_types)}")


class GucHeadersError(ApiError):
    """PGRST111: the function set ``response.headers`` to something unusable."""

    status = 500
    code = "PGRST111"

    def __init__(self) -> None:
        super().__init__(
            "response.headers guc must be a JSON array composed of objects with a single key "
            "and a string value",
        )


class GucStatusError(ApiError):
    """PGRST112: the function set ``response.status`` to something that is not a status."""

    status = 500
    code = "PGRST112"

    def __init__(self) -> None:
        super().__init__("response.status guc must be a valid status code")


class SingularityError(ApiError):
    """PGRST116: ``application/vnd.pgrst.object+json`` asked for, result is not one row."""

    status = 406
    code = "PGRST116"

    def __init__(self, rows: int) -> None:
        super().__init__("Cannot coerce the result to a single JSON object",
                         f"The result contains {rows} rows")


class PgrstParseError(ApiError):
    """PGRST121: ``RAISE SQLSTATE 'PGRST'`` with a MESSAGE/DETAIL that is not the JSON we need."""

    status = 500
    code = "PGRST121"

    def __init__(self, details: str, hint: str) -> None:
        super().__init__("Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
                         details, hint)


class InvalidPreferences(ApiError):
    """PGRST122: ``Prefer: handling=strict`` with preferences we do not know."""

    status = 400
    code = "PGRST122"

    def __init__(self, prefs: Sequence[str]) -> None:
        super().__init__("Invalid preferences given with handling=strict",
                         f"Invalid preferences: {', '.join(prefs)}")


class MaxAffectedViolation(ApiError):
    """PGRST124: ``Prefer: handling=strict, max-affected=N`` and the call gave more rows
    (its transaction is rolled back)."""

    status = 400
    code = "PGRST124"

    def __init__(self, rows: int) -> None:
        super().__init__("Query result exceeds max-affected preference constraint",
                         f"The query affects {rows} rows")


class MaxAffectedRpcViolation(ApiError):
    """PGRST128: ``max-affected`` with ``handling=strict`` on a function not returning a set."""

    status = 400
    code = "PGRST128"

    def __init__(self) -> None:
        super().__init__("Function must return SETOF or TABLE when max-affected preference "
                         "is used with handling=strict")


class InvalidResourcePath(ApiError):
    """PGRST125: a path that names no resource (deeper than ``/rpc/<name>``)."""

    status = 404
    code = "PGRST125"

    def __init__(self) -> None:
        super().__init__("Invalid path specified in request URL")


# --- schema cache (PGRST2xx) ------------------------------------------------------------


class NoRpc(ApiError):
    """PGRST202: no function of that name takes exactly the given argument names."""

    status = 404
    code = "PGRST202"

    def __init__(
        self, schema: str, name: str, arg_names: Sequence[str], *, is_post_json: bool,
        hint: str | None, single_unnamed: str | None = None,
    ) -> None:
        func = f"{schema}.{name}"
        keys = ", ".join(arg_names)
        prms_msg = f"({keys})" if arg_names else " without parameters"
        prms_det = (
            (" with parameters " if len(arg_names) > 1 else " with parameter ") + keys
            if arg_names
            else " without parameters"
        )
        if is_post_json:
            prms_det += " or with a single unnamed json/jsonb parameter"
        if single_unnamed is not None:  # a text/xml/bytea body: no parameter list, no hint
            prms_msg, hint = "", None
            prms_det = f" with a single unnamed {single_unnamed} parameter"
        super().__init__(
            f"Could not find the function {func}{prms_msg} in the schema cache",
            f"Searched for the function {func}{prms_det}, but no matches were found in the "
            "schema cache.",
            hint,
        )


class AmbiguousRpc(ApiError):
    """PGRST203: several overloads match the given argument names."""

    status = 300
    code = "PGRST203"

    def __init__(self, candidates: Sequence[str]) -> None:
        super().__init__(
            "Could not choose the best candidate function between: " + ", ".join(candidates),
            hint="Try renaming the parameters or the function itself in the database so "
            "function overloading can be resolved",
        )


class ColumnNotFound(ApiError):
    """42703 (as PostgreSQL words it): select/filter/order names a column the result lacks."""

    status = 400
    code = "42703"

    def __init__(self, relation: str, column: str) -> None:
        super().__init__(f"column {relation}.{column} does not exist")


# --- JWT (PGRST3xx) -----------------------------------------------------------------------


def _invalid_token_header(message: str) -> dict[str, str]:
    description = message.replace("\\", "\\\\").replace('"', '\\"')
    return {
        "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'
    }


class JwtSecretMissing(ApiError):
    """PGRST300: a token was sent but no key is configured."""

    status = 500
    code = "PGRST300"

    def __init__(self) -> None:
        super().__init__("Server lacks JWT secret")


class JwtDecodeError(ApiError):
    """PGRST301: the token does not decode or its signature does not verify."""

    status = 401
    code = "PGRST301"

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message, details, headers=_invalid_token_header(message))


class JwtTokenRequired(ApiError):
    """PGRST302: no token and anonymous access is disabled (no anonymous role)."""

    status = 401
    code = "PGRST302"

    def __init__(self) -> None:
        super().__init__("Anonymous access is disabled", headers={"WWW-Authenticate": "Bearer"})


class JwtClaimsError(ApiError):
    """PGRST303: the token verifies but its claims do not (exp, nbf, iat, aud)."""

    status = 401
    code = "PGRST303"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers=_invalid_token_header(message))


# --- beyond PostgREST (MRPC) --------------------------------------------------------------


class RateLimited(ApiError):
    """429: the client's rate limit is used up; ``Retry-After`` and ``RateLimit-*`` headers."""

    status = 429
    code = "MRPC429"

    def __init__(self, retry_after: int, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(
            "Too many requests", f"Rate limit exceeded, retry in {retry_after} seconds",
            headers={**_retry_after(retry_after), **(headers or {})},
        )


class RateLimitUnavailable(ApiError):
    """503: the rate limit storage is down and METRICS_RPC_RATE_LIMIT_FAIL_OPEN is off."""

    status = 503
    code = "MRPC503"
    retryable = True

    def __init__(self, retry_after: int) -> None:
        super().__init__("Rate limiting is unavailable",
                         "The rate limit storage cannot be reached",
                         headers=_retry_after(retry_after))


class PayloadTooLarge(ApiError):
    """413: the request body exceeds METRICS_RPC_MAX_BODY_BYTES."""

    status = 413
    code = "MRPC413"

    def __init__(self, limit: int) -> None:
        super().__init__(
            "Payload too large", f"The request body exceeds {limit} bytes",
            headers={"Connection": "close"},  # the rest of the body is not read
        )


class UriTooLong(ApiError):
    """414: the request URL exceeds METRICS_RPC_MAX_URL_LENGTH."""

    status = 414
    code = "MRPC414"

    def __init__(self, limit: int) -> None:
        super().__init__("URI too long", f"The request URL exceeds {limit} bytes",
                         headers={"Connection": "close"})  # the body is not read


class HeadersTooLarge(ApiError):
    """431: the request line and headers exceed METRICS_RPC_MAX_HEADER_BYTES."""

    status = 431
    code = "MRPC431"

    def __init__(self, limit: int) -> None:
        super().__init__("Request header fields too large",
                         f"The request line and headers exceed {limit} bytes",
                         headers={"Connection": "close"})  # the rest is not read


class UnsupportedMediaType(ApiError):
    """415: a request body in a content type or encoding we do not read (remote write)."""

    status = 415
    code = "MRPC415"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class SamplesRejected(ApiError):
    """400: a remote write with invalid samples; the valid ones were written, no retry."""

    status = 400
    code = "MRPC400"

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message, details)


class MethodNotAllowed(ApiError):
    """405: a route outside ``/rpc`` called with a method it does not take."""

    status = 405
    code = "MRPC405"

    def __init__(self, message: str = "Method Not Allowed") -> None:
        super().__init__(message)


class HttpProtocolError(ApiError):
    """Any other error the HTTP framework raises (outside ``/rpc``): status as it decided,
    code ``MRPC<status>``."""

    status = 400
    code = "MRPC400"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = f"MRPC{status}"


class InternalError(ApiError):
    """500 for our own failures: never a stack trace in the response."""

    status = 500
    code = "MRPC500"

    def __init__(self, details: str | None = None) -> None:
        super().__init__("Internal server error", details)


# --- errors from PostgreSQL ---------------------------------------------------------------


class DatabaseError(ApiError):
    """An error PostgreSQL raised, answered as PostgREST maps its SQLSTATE: ``code`` is the
    SQLSTATE, ``status`` from ``status_for_sqlstate`` (a 401 carries ``WWW-Authenticate``)."""

    status = 400
    code = "XX000"

    def __init__(self, sqlstate: str, message: str, details: str | None, hint: str | None,
                 *, authenticated: bool) -> None:
        status = status_for_sqlstate(sqlstate, message, authenticated=authenticated)
        super().__init__(message, details, hint,
                         headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
        self.status = status
        self.code = sqlstate


class RaisedError(ApiError):
    """A status the function chose on purpose: ``RAISE SQLSTATE 'PT503'`` or
    ``RAISE SQLSTATE 'PGRST' USING message = '{json}', detail = '{json}'``. Never retried,
    whatever the status: the function would only say it again."""

    status = 500
    code = "PT500"

    def __init__(self, status: int, code: str, message: str, details: str | None = None,
                 hint: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        # a 503 says when to come back, whoever chose it
        own = {**_retry_after(1), **(headers or {})} if status == 503 else headers
        super().__init__(message, details, hint, own)
        self.status = status
        self.code = code


# SQLSTATEs that mean "the database cannot serve this now, try again": connection
# exceptions, insufficient resources, and admin/crash shutdown or a server still starting.
_UNAVAILABLE_CLASSES = ("08", "53")
_UNAVAILABLE_STATES = frozenset(("57P01", "57P02", "57P03"))


def is_unavailable(sqlstate: str) -> bool:
    """Does this SQLSTATE mean the database is going away or not there yet (→ 503)?"""
    return sqlstate in _UNAVAILABLE_STATES or (
        sqlstate[:2] in _UNAVAILABLE_CLASSES and sqlstate != "53400"
    )


def status_for_sqlstate(sqlstate: str, message: str, *, authenticated: bool) -> int:
    """PostgREST's SQLSTATE → HTTP status map (``mapSQLtoHTTP``), the one place for it;
    57P02 and 57P03 (crash shutdown, starting up) are 503 as well here."""
    if is_unavailable(sqlstate):
        return 503
    exact = {
        "23503": 409, "23505": 409, "25006": 405, "53400": 500, "P0001": 400,
        "42P01": 404, "42P17": 500,
    }
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate == "21000":
        return 400 if message.endswith("requires a WHERE clause") else 500
    if sqlstate == "22023":
        return 401 if message.startswith("role") and message.endswith("does not exist") else 400
    if sqlstate == "42883":
        return 406 if message.startswith("function xmlagg(") else 404
    if sqlstate == "42501":
        return 403 if authenticated else 401
    if sqlstate.startswith("PT"):
        try:
            status = int(sqlstate[2:])
        except ValueError:
            return 500
        return status if 100 <= status <= 599 else 500
    by_class = {
        "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500,
        "39": 500, "3B": 500, "40": 500, "54": 500, "55": 500, "57": 500, "58": 500,
        "F0": 500, "HV": 500, "P0": 500, "XX": 500,
    }
    return by_class.get(sqlstate[:2], 400)


def from_postgres(
    sqlstate: str, message: str, detail: str | None, hint: str | None, *, authenticated: bool
) -> ApiError:
    """An error raised by PostgreSQL as the response PostgREST would give, as its case."""
    if sqlstate == "PGRST":
        return _from_raise_pgrst(message, detail)
    if sqlstate.startswith("PT"):
        status = status_for_sqlstate(sqlstate, message, authenticated=authenticated)
        return RaisedError(status, sqlstate, message, detail, hint)
    if is_unavailable(sqlstate):
        return DatabaseUnavailable(message, detail, hint, code=sqlstate)
    return DatabaseError(sqlstate, message, detail, hint, authenticated=authenticated)


def from_postgres_exception(exc: Any, *, authenticated: bool) -> ApiError:
    """``from_postgres`` for an exception with asyncpg's attributes (sqlstate, message…)."""
    return from_postgres(
        str(getattr(exc, "sqlstate", None) or "XX000"),
        str(getattr(exc, "message", None) or exc),
        getattr(exc, "detail", None),
        getattr(exc, "hint", None),
        authenticated=authenticated,
    )


def _from_raise_pgrst(message: str, detail: str | None) -> ApiError:
    """``RAISE SQLSTATE 'PGRST' USING message = '{json}', detail = '{json}'``: full control."""
    try:
        msg = msgspec.json.decode(message)
        if not isinstance(msg, dict) or "code" not in msg or "message" not in msg:
            raise ValueError
    except (msgspec.DecodeError, ValueError):
        return PgrstParseError(
            f"Invalid JSON value for MESSAGE: '{message}'",
            "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional "
            "keys: 'details', 'hint'.",
        )
    hint_detail = (
        "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional "
        "key: 'status_text'."
    )
    if detail is None:
        return PgrstParseError("DETAIL is missing in the RAISE statement", hint_detail)
    try:
        det = msgspec.json.decode(detail)
        if not isinstance(det, dict) or not isinstance(det.get("status"), int):
            raise ValueError
        headers = det.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError
    except (msgspec.DecodeError, ValueError):
        return PgrstParseError(f"Invalid JSON value for DETAIL: '{detail}'", hint_detail)
    return RaisedError(
        det["status"], str(msg["code"]), str(msg["message"]),
        None if msg.get("details") is None else str(msg["details"]),
        None if msg.get("hint") is None else str(msg["hint"]),
        {str(k): str(v) for k, v in headers.items()},
    )


def error_classes() -> list[type[ApiError]]:
    """Every case of the closed set (for tests and documentation)."""
    found: list[type[ApiError]] = []
    pending: list[type[ApiError]] = [ApiError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
