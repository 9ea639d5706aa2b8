"""Stage 5 of the pipeline: status and headers around the bytes PostgreSQL produced. Pure.

``Content-Range`` and 206/416 follow PostgREST's ``rangeStatus``/``contentRangeH``; the
``response.headers`` / ``response.status`` GUCs a function set override what we computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from api.errors import GucHeadersError, GucStatusError, InvalidRange
from api.rpc.parse import Media, RpcRequest
from api.rpc.plan import CallPlan

CONTENT_TYPES: dict[Media, str] = {
    "json": "application/json; charset=utf-8",
    "object": "application/vnd.pgrst.object+json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
    "binary": "application/octet-stream",
}


class Response(msgspec.Struct, frozen=True):
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # b"" for HEAD and void


def range_status(lower: int, upper: int, total: int | None) -> int:
    if total is None:
        return 200
    if lower > total:  # with Content-Range: */<total>, as PostgREST answers a 416
        raise InvalidRange.out_of_bounds(lower, total)
    if (1 + upper - lower) < total:
        return 206
    return 200


def content_range(lower: int, upper: int, total: int | None) -> str:
    total_text = "*" if total is None else str(total)
    if (total is None or total != 0) and lower <= upper:
        return f"{lower}-{upper}/{total_text}"
    return f"*/{total_text}"


def guc_headers(raw: str | None) -> list[tuple[str, str]]:
    """``response.headers``: a JSON array of one-key objects with string values."""
    if raw is None:
        return []
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise GucHeadersError() from None
    if not isinstance(value, list):
        raise GucHeadersError()
    out: list[tuple[str, str]] = []
    for item in value:
        if not isinstance(item, dict) or len(item) != 1:
            raise GucHeadersError()
        ((name, text),) = item.items()
        if not isinstance(text, str):
            raise GucHeadersError()
        out.append((name.lower(), text))
    return out


def guc_status(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        status = int(raw)
    except ValueError:
        raise GucStatusError() from None
    if not 100 <= status <= 599:
        raise GucStatusError()
    return status


def head_for(
    request: RpcRequest,
    plan: CallPlan,
    *,
    rows: int | None,
    total: int | None,
    response_headers: str | None,
    response_status: str | None,
    exposed_schemas: Sequence[str],
    has_body: bool,
) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers (without Content-Length) of a successful call."""
    headers: list[tuple[str, str]] = []
    status = 200
    if has_body:
        headers.append(("content-type", CONTENT_TYPES[plan.media]))
    # every non-void result has a Content-Range (a single value is the range 0-0 of 1 row)
    if plan.function.shape != "void" and rows is not None and plan.media != "object":
        lower = plan.offset if plan.function.returns_set else 0
        upper = lower + rows - 1
        status = range_status(lower, upper, total)
        headers.append(("content-range", content_range(lower, upper, total)))
    if not has_body and plan.function.shape == "void":
        status = 204
    if len(exposed_schemas) > 1:
        headers.append(("content-profile", request.schema))
    applied = request.preferences.applied(rollback=plan.rollback, tx=plan.tx.prefer_tx)
    if applied:
        headers.append(("preference-applied", applied))
    extra = guc_headers(response_headers)
    if extra:
        names = {name for name, _ in extra}
        headers = [h for h in headers if h[0] not in names] + extra
    override = guc_status(response_status)
    return (override if override is not None else status), headers


def respond(
    request: RpcRequest,
    plan: CallPlan,
    *,
    rows: int,
    body: bytes | None,
    total: int | None,
    response_headers: str | None,
    response_status: str | None,
    exposed_schemas: Sequence[str],
) -> Response:
    has_body = body is not None
    status, headers = head_for(
        request, plan, rows=rows, total=total, response_headers=response_headers,
        response_status=response_status, exposed_schemas=exposed_schemas, has_body=has_body,
    )
    payload = body or b""
    if request.method == "HEAD":
        payload = b""  # and no Content-Length for the body not sent, as PostgREST
    elif status != 204:  # a 204 has no Content-Length (RFC 9110 §8.6)
        headers.append(("content-length", str(len(payload))))
    return Response(status, headers, payload)
