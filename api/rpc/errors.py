"""The closed set of errors the API answers with, and the one SQLSTATE → HTTP map.

Every error is an ``ApiError``: status, code, message, details, hint and extra headers,
rendered as PostgREST renders them (``{"code","details","hint","message"}``, details and
hint ``null`` when absent). The subclasses are the cases; codes and wording follow
PostgREST (``src/PostgREST/Error.hs``) so clients matching on them keep working. Cases
PostgREST lacks (rate limit, size limits) use ``MRPC`` codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class ApiError(Exception):
    """An error response: ``status``, PostgREST-style body, extra ``headers``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: str | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


# --- connection and schema cache (PGRST0xx) ---------------------------------------------


class DbConnectionError(ApiError):
    """PGRST000: the database is unreachable; clients should retry."""

    def __init__(self, details: str | None = None, retry_after: int = 1) -> None:
        super().__init__(
            503, "PGRST000", "Database connection error. Retrying the connection.", details,
            headers={"Retry-After": str(retry_after)},
        )


class PoolTimeout(ApiError):
    """PGRST003: no pooled connection became free within PGRST_DB_POOL_ACQUISITION_TIMEOUT."""

    def __init__(self) -> None:
        super().__init__(504, "PGRST003", "Timed out acquiring connection from connection pool.")


class NoSchemaCache(ApiError):
    """PGRST002: the schema cache is not loaded (yet)."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(
            503, "PGRST002", "Could not query the database for the schema cache. Retrying.",
            headers={"Retry-After": str(retry_after)},
        )


# --- request (PGRST1xx) -----------------------------------------------------------------


class QueryParamError(ApiError):
    """PGRST100: a query parameter (filter, order, select, limit) does not parse."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(400, "PGRST100", message, details)


class InvalidRpcMethod(ApiError):
    """PGRST101: only GET, HEAD, POST and OPTIONS reach a function."""

    def __init__(self, method: str) -> None:
        super().__init__(405, "PGRST101", f"Cannot use the {method} method on RPC")


class InvalidBody(ApiError):
    """PGRST102: the request body is not what the content type promises."""

    def __init__(self, message: str = "Empty or invalid json") -> None:
        super().__init__(400, "PGRST102", message)


class InvalidRange(ApiError):
    """PGRST103: range/limit/offset that cannot be satisfied."""

    def __init__(self, details: str) -> None:
        super().__init__(416, "PGRST103", "Requested range not satisfiable", details)

    @classmethod
    def out_of_bounds(cls, lower: int, total: int) -> InvalidRange:
        return cls(f"An offset of {lower} was requested, but there are only {total} rows.")

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

    def __init__(self, schema: str, exposed: Sequence[str]) -> None:
        super().__init__(
            406, "PGRST106", f"Invalid schema: {schema}",
            hint=f"Only the following schemas are exposed: {', '.join(exposed)}",
        )


class MediaTypeError(ApiError):
    """PGRST107: none of the accepted media types can be produced."""

    def __init__(self, media_types: Iterable[str]) -> None:
        super().__init__(
            406, "PGRST107",
            f"None of these media types are available: {', '.join(media_types)}",
        )


class GucHeadersError(ApiError):
    """PGRST111: the function set ``response.headers`` to something unusable."""

    def __init__(self) -> None:
        super().__init__(
            500, "PGRST111",
            "response.headers guc must be a JSON array composed of objects with a single key "
            "and a string value",
        )


class GucStatusError(ApiError):
    """PGRST112: the function set ``response.status`` to something that is not a status."""

    def __init__(self) -> None:
        super().__init__(500, "PGRST112", "response.status guc must be a valid status code")


class SingularityError(ApiError):
    """PGRST116: ``application/vnd.pgrst.object+json`` asked for, result is not one row."""

    def __init__(self, rows: int) -> None:
        super().__init__(
            406, "PGRST116", "Cannot coerce the result to a single JSON object",
            f"The result contains {rows} rows",
        )


class InvalidPreferences(ApiError):
    """PGRST122: ``Prefer: handling=strict`` with preferences we do not know."""

    def __init__(self, prefs: Sequence[str]) -> None:
        super().__init__(
            400, "PGRST122", "Invalid preferences given with handling=strict",
            f"Invalid preferences: {', '.join(prefs)}",
        )


class InvalidResourcePath(ApiError):
    """PGRST125: a path that names no resource (deeper than ``/rpc/<name>``)."""

    def __init__(self) -> None:
        super().__init__(404, "PGRST125", "Invalid path specified in request URL")


class PgrstParseError(ApiError):
    """PGRST121: ``RAISE SQLSTATE 'PGRST'`` with a MESSAGE/DETAIL that is not the JSON we need."""

    def __init__(self, details: str, hint: str) -> None:
        super().__init__(
            500, "PGRST121", "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
            details, hint,
        )


# --- schema cache (PGRST2xx) ------------------------------------------------------------


class NoRpc(ApiError):
    """PGRST202: no function of that name takes exactly the given argument names."""

    def __init__(
        self, schema: str, name: str, arg_names: Sequence[str], *, is_post_json: bool,
        hint: str | None,
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
        super().__init__(
            404, "PGRST202", f"Could not find the function {func}{prms_msg} in the schema cache",
            f"Searched for the function {func}{prms_det}, but no matches were found in the "
            "schema cache.",
            hint,
        )


class AmbiguousRpc(ApiError):
    """PGRST203: several overloads match the given argument names."""

    def __init__(self, candidates: Sequence[str]) -> None:
        super().__init__(
            300, "PGRST203",
            "Could not choose the best candidate function between: " + ", ".join(candidates),
            hint="Try renaming the parameters or the function itself in the database so "
            "function overloading can be resolved",
        )


class ColumnNotFound(ApiError):
    """42703 (as PostgreSQL words it): select/filter/order names a column the result lacks."""

    def __init__(self, relation: str, column: str) -> None:
        super().__init__(400, "42703", f"column {relation}.{column} does not exist")


# --- JWT (PGRST3xx) -----------------------------------------------------------------------


def _invalid_token_header(message: str) -> dict[str, str]:
    description = message.replace("\\", "\\\\").replace('"', '\\"')
    return {
        "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'
    }


class JwtSecretMissing(ApiError):
    """PGRST300: a token was sent but no key is configured."""

    def __init__(self) -> None:
        super().__init__(500, "PGRST300", "Server lacks JWT secret")


class JwtDecodeError(ApiError):
    """PGRST301: the token does not decode or its signature does not verify."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(401, "PGRST301", message, details, headers=_invalid_token_header(message))


class JwtTokenRequired(ApiError):
    """PGRST302: no token and anonymous access is disabled (no anonymous role)."""

    def __init__(self) -> None:
        super().__init__(
            401, "PGRST302", "Anonymous access is disabled", headers={"WWW-Authenticate": "Bearer"}
        )


class JwtClaimsError(ApiError):
    """PGRST303: the token verifies but its claims do not (exp, nbf, iat, aud)."""

    def __init__(self, message: str) -> None:
        super().__init__(401, "PGRST303", message, headers=_invalid_token_header(message))


# --- beyond PostgREST (MRPC) --------------------------------------------------------------


class RateLimited(ApiError):
    """429: the client's rate limit is used up; ``Retry-After`` and ``RateLimit-*`` headers."""

    def __init__(self, retry_after: int, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(
            429, "MRPC429", "Too many requests",
            f"Rate limit exceeded, retry in {retry_after} seconds",
            headers={"Retry-After": str(retry_after), **(headers or {})},
        )


class PayloadTooLarge(ApiError):
    """413: the request body exceeds METRICS_RPC_MAX_BODY_BYTES."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, "MRPC413", "Payload too large", f"The request body exceeds {limit} bytes",
            headers={"Connection": "close"},  # the rest of the body is not read
        )


class UriTooLong(ApiError):
    """414: the request URL exceeds METRICS_RPC_MAX_URL_LENGTH."""

    def __init__(self, limit: int) -> None:
        super().__init__(414, "MRPC414", "URI too long", f"The request URL exceeds {limit} bytes",
                         headers={"Connection": "close"})  # the body is not read


class HeadersTooLarge(ApiError):
    """431: the request line and headers exceed METRICS_RPC_MAX_HEADER_BYTES."""

    def __init__(self, limit: int) -> None:
        super().__init__(431, "MRPC431", "Request header fields too large",
                         f"The request line and headers exceed {limit} bytes",
                         headers={"Connection": "close"})  # the rest is not read


class UnsupportedMediaType(ApiError):
    """415: a request body in a content type or encoding we do not read (remote write)."""

    def __init__(self, message: str) -> None:
        super().__init__(415, "MRPC415", message)


class SamplesRejected(ApiError):
    """400: a remote write with invalid samples; the valid ones were written, no retry."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(400, "MRPC400", message, details)


class InternalError(ApiError):
    """500 for our own failures: never a stack trace in the response."""

    def __init__(self, details: str | None = None) -> None:
        super().__init__(500, "MRPC500", "Internal server error", details)


# --- errors from PostgreSQL ---------------------------------------------------------------


def status_for_sqlstate(sqlstate: str, message: str, *, authenticated: bool) -> int:
    """PostgREST's SQLSTATE → HTTP status map (``mapSQLtoHTTP``), the one place for it."""
    exact = {
        "23503": 409, "23505": 409, "25006": 405, "53400": 500, "57P01": 503, "P0001": 400,
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
        "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500,
        "39": 500, "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500,
        "F0": 500, "HV": 500, "P0": 500, "XX": 500,
    }
    return by_class.get(sqlstate[:2], 400)


def from_postgres(
    sqlstate: str, message: str, detail: str | None, hint: str | None, *, authenticated: bool
) -> ApiError:
    """An error raised by PostgreSQL as the response PostgREST would give."""
    if sqlstate == "PGRST":
        return _from_raise_pgrst(message, detail)
    status = status_for_sqlstate(sqlstate, message, authenticated=authenticated)
    headers = None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif status == 503:  # connection lost, server shutting down, out of resources: retry
        headers = {"Retry-After": "1"}
    return ApiError(status, sqlstate, message, detail, hint, headers)


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
    return ApiError(
        det["status"], str(msg["code"]), str(msg["message"]),
        None if msg.get("details") is None else str(msg["details"]),
        None if msg.get("hint") is None else str(msg["hint"]),
        {str(k): str(v) for k, v in headers.items()},
    )
