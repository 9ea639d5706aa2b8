"""``POST /api/v1/write``: Prometheus remote write (1.0 and 2.0) into ``ingest.write_samples``.

The request goes auth → rate limit (the ``ingest`` budget) → decode (pure,
:mod:`api.ingest.decode`) → one read-write transaction as the token's role, one
``ingest.write_series_samples`` statement per batch of at most ``BATCH_SAMPLES`` samples
(array parameters, binary protocol) → respond.

Series ids: the database returns the id of every series of a batch, and this process
keeps them (:class:`SeriesIds`, keyed by the decoder's series key) to send them along next
time, so a batch of known series costs the database one primary-key probe per series
instead of routing, JSON parsing and a (schema, name, labels) lookup. The database only
uses an id while the routing rules are those it was resolved under (the ``routes``
token it returns) and the id still names a series of that name; anything else is
resolved from the labels, which are always sent. So a stale or wrong cache costs time,
never correctness.

Status codes, chosen so that a sender following the remote-write spec loses nothing:

- 204: every sample stored (or already stored: a replay changes nothing) or deliberately
  skipped (stale markers, NaN, ±Inf; see :mod:`api.ingest.decode`).
- 400: malformed request (headers, snappy, protobuf): nothing written; or some samples
  invalid: the valid ones *are* written and the message counts the rejected ones. Senders
  do not retry a 400, and need not: retrying could not make those samples valid.
- 401 / 403: no token, a bad token, or a role without EXECUTE on
  ``ingest.write_series_samples`` (the database decides; SQLSTATE 42501 is mapped in
  :mod:`api.errors`).
- 415: a content type, ``proto=`` or encoding we do not read.
- 429 (with ``Retry-After``): the token's ``ingest`` budget of ``METRICS_RPC_RATE_LIMITS``
  is used up; checked right after auth, before decoding, so nothing is written.
- 503 (with ``Retry-After``) when the database is unreachable, 5xx for other server-side
  failures: the transaction rolled back, nothing was written, and the sender's retry
  lands exactly once because duplicates are ignored.

Senders that only do HTTP basic auth put a writer JWT in the password (user ignored).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, cast

import msgspec
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CollectorRegistry, Counter, Histogram

from api.config import Settings
from api.errors import (
    ApiError,
    DatabaseUnavailable,
    InternalError,
    JwtDecodeError,
    SamplesRejected,
    from_postgres,
)
from api.http import RequestContext, scope_headers
from api.ingest import decode
from api.observability import DatabaseUnavailable as DatabaseUnavailableEvent
from api.observability import Observability
from api.ratelimit import RequestRateLimiter
from api.rpc import Authenticator, AuthResult, Database, SchemaCacheHolder

log = logging.getLogger("metrics_rpc.ingest")

PATH = "/api/v1/write"
WRITE_SQL = (
    "select received, written, duplicates, routes, series_ids from ingest.write_series_samples("
    "$1::text, $2::int8[], $3::text[], $4::text[], $5::int4[], $6::timestamptz[], "
    "$7::float8[], $8::text[])"
)
BATCH_SAMPLES = 10_000  # per statement; a request of any size is one transaction
SERIES_ID_CACHE_SIZE = 1_000_000  # series keys remembered (~250 bytes each); emptied when full


class SeriesIds:
    """Series key → id, as the database returned them under routing token ``routes``.

    Holds only ids of one token: when a batch comes back under another one (the routing
    rules changed), everything is forgotten first. Entries of a transaction that rolled
    back point at no series; the database notices (primary-key probe) and resolves those
    series again.
    """

    def __init__(self, max_size: int = SERIES_ID_CACHE_SIZE) -> None:
        self.routes: str | None = None
        self.ids: dict[decode.SeriesKey, int] = {}
        self.max_size = max_size

    def lookup(self, keys: Sequence[decode.SeriesKey]) -> tuple[str | None, list[int | None]]:
        get = self.ids.get
        return self.routes, [get(key) for key in keys]

    def remember(self, routes: str, keys: Sequence[decode.SeriesKey],
                 ids: Sequence[int | None] | None) -> None:
        if routes != self.routes:
            self.ids.clear()
            self.routes = routes
        if ids is None:
            return
        if len(self.ids) + len(keys) > self.max_size:
            self.ids.clear()
        cache = self.ids
        for key, series_id in zip(keys, ids, strict=True):
            if series_id is not None:
                cache[key] = series_id


Statement = tuple[list[decode.SeriesKey], tuple[Any, ...]]


def statements(decoded: decode.DecodedWrite, series_ids: SeriesIds) -> list[Statement]:
    """The ``WRITE_SQL`` calls of one request: (series keys, arguments) per statement.

    At most ``BATCH_SAMPLES`` samples each, with the series those samples use. Always at
    least one call, even with no samples: the database checks the role's privilege.
    """
    total = decoded.accepted
    if total <= BATCH_SAMPLES:
        return [_statement(decoded.series_keys, decoded.series, decoded.times, decoded.values,
                           decoded.amounts, series_ids)]
    out = []
    for start in range(0, total, BATCH_SAMPLES):
        end = start + BATCH_SAMPLES
        keys: list[decode.SeriesKey] = []
        local: dict[int, int] = {}
        positions = []
        for position in decoded.series[start:end]:
            index = local.get(position)
            if index is None:
                keys.append(decoded.series_keys[position - 1])
                index = local[position] = len(keys)
            positions.append(index)
        out.append(_statement(keys, positions, decoded.times[start:end],
                              decoded.values[start:end], decoded.amounts[start:end],
                              series_ids))
    return out


def _statement(keys: list[decode.SeriesKey], positions: list[int], times: list[Any],
               values: list[float], amounts: list[str | None],
               series_ids: SeriesIds) -> Statement:
    routes, ids = series_ids.lookup(keys)
    return keys, (routes, ids, [key[0] for key in keys], [key[1] for key in keys], positions,
                  times, values, amounts)


class IngestFinished(msgspec.Struct, frozen=True):
    """One remote-write request, as the metrics see it."""

    protocol: str  # "1.0", "2.0" or "" when the headers did not say
    status: int
    seconds: float
    received: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped_stale: int = 0
    skipped_non_finite: int = 0


class IngestMetrics:
    """The ingest counters of ``/metrics``, fed by :class:`IngestFinished` events."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "metrics_rpc_ingest_requests", "Remote-write requests by protocol and status",
            ["protocol", "status"], registry=registry,
        )
        self.latency = Histogram(
            "metrics_rpc_ingest_request_duration_seconds", "Remote-write request latency",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.received = Counter(
            "metrics_rpc_ingest_samples_received", "Samples received by remote write",
            registry=registry,
        )
        self.written = Counter(
            "metrics_rpc_ingest_samples_written", "Samples newly stored", registry=registry
        )
        self.duplicates = Counter(
            "metrics_rpc_ingest_samples_duplicate", "Samples already stored (replays, retries)",
            registry=registry,
        )
        self.rejected = Counter(
            "metrics_rpc_ingest_samples_rejected", "Invalid samples answered with 400",
            registry=registry,
        )
        self.skipped = Counter(
            "metrics_rpc_ingest_samples_skipped",
            "Samples deliberately not stored: stale markers, other NaN and infinities",
            ["reason"], registry=registry,
        )

    def emit(self, event: IngestFinished) -> None:
        self.requests.labels(event.protocol, str(event.status)).inc()
        self.latency.observe(event.seconds)
        self.received.inc(event.received)
        self.written.inc(event.written)
        self.duplicates.inc(event.duplicates)
        self.rejected.inc(event.rejected)
        self.skipped.labels("stale").inc(event.skipped_stale)
        self.skipped.labels("non_finite").inc(event.skipped_non_finite)


class WriteResult(msgspec.Struct, frozen=True):
    written: int
    duplicates: int
    invalid_in_db: int  # samples the database refused to store (counted as rejected)
    limit_headers: dict[str, str] = {}  # RateLimit-* of the ingest budget

    def headers(self) -> dict[str, str]:
        """The remote-write 2.0 ``*-Written`` headers (sent for 1.0 too), plus duplicates."""
        return {
            **self.limit_headers,
            "X-Prometheus-Remote-Write-Samples-Written": str(self.written + self.duplicates),
            "X-Prometheus-Remote-Write-Histograms-Written": "0",
            "X-Prometheus-Remote-Write-Exemplars-Written": "0",
            "X-Metrics-Rpc-Samples-Duplicate": str(self.duplicates),
        }


def authorization_for_write(header: str | None) -> str | None:
    """``Authorization`` as the authenticator takes it: basic auth's password is the JWT."""
    if header is None:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return header
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise JwtDecodeError("Invalid basic authorization header") from None
    _, _, password = decoded.partition(":")
    if not password:
        raise JwtDecodeError("Basic authorization needs a writer JWT as the password")
    return f"Bearer {password}"


class RemoteWrite:
    """The endpoint: everything but the HTTP framework, so it reads top to bottom."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        authenticator: Authenticator,
        cache: SchemaCacheHolder,
        observability: Observability,
        rate_limiter: RequestRateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.authenticator = authenticator
        self.cache = cache  # role settings for the role switch, as for /rpc
        self.observability = observability
        self.metrics = IngestMetrics(observability.registry)
        self.rate_limiter = rate_limiter
        self.series_ids = SeriesIds()
        # a compressed body is at most max_body_bytes; snappy inflates ~5x on metrics
        self.max_decompressed_bytes = max(settings.max_body_bytes * 8, 64 * 1024 * 1024)

    async def handle(
        self, headers: Mapping[str, str], body: bytes,
        scope: MutableMapping[str, Any] | None = None,
    ) -> WriteResult:
        """``headers`` with lower-case names; ``scope`` (the ASGI scope) gives the client
        address to the rate limiter. Raises ``ApiError`` for every non-204 answer."""
        started = time.perf_counter()
        event: dict[str, Any] = {"protocol": ""}
        try:
            auth = self.authenticator.authenticate(
                authorization_for_write(headers.get("authorization"))
            )
            if auth.anonymous:
                # no token at all: answer as the database would, without decoding the body
                raise from_postgres(
                    "42501", "permission denied for function write_series_samples", None,
                    "Send a writer JWT as a bearer token (or as the basic auth password)",
                    authenticated=False,
                )
            limit_headers: Mapping[str, str] | None = None
            if self.rate_limiter is not None:
                limit_headers = await self.rate_limiter.check(auth, scope or {}, ingest=True)
            decoded = decode.decode_request(
                body, headers.get("content-type"), headers.get("content-encoding"),
                max_decompressed_bytes=self.max_decompressed_bytes,
            )
            event.update(
                protocol="1.0" if decoded.protocol is decode.Protocol.V1 else "2.0",
                received=decoded.received,
                skipped_stale=decoded.skipped_stale,
                skipped_non_finite=decoded.skipped_non_finite,
            )
            result = await self._write(auth, headers, decoded)
            if limit_headers:
                result = msgspec.structs.replace(result, limit_headers=dict(limit_headers))
            rejected = decoded.rejected_total + result.invalid_in_db
            event.update(written=result.written, duplicates=result.duplicates, rejected=rejected)
            if rejected:
                raise _rejection(decoded, result)
        except ApiError as exc:
            if isinstance(exc, DatabaseUnavailable):
                self.observability.emit(
                    DatabaseUnavailableEvent(f"{exc.code}: {exc.details or exc.message}")
                )
            self.metrics.emit(IngestFinished(
                status=exc.status, seconds=time.perf_counter() - started, **event
            ))
            raise
        except Exception:
            log.exception("unexpected error in remote write")
            self.metrics.emit(IngestFinished(
                status=500, seconds=time.perf_counter() - started, **event
            ))
            raise InternalError() from None
        self.metrics.emit(IngestFinished(status=204, seconds=time.perf_counter() - started,
                                         **event))
        return result

    async def _write(
        self, auth: AuthResult, headers: Mapping[str, str], decoded: decode.DecodedWrite
    ) -> WriteResult:
        context = RequestContext.of("POST", PATH, dict(headers), self.settings.db_schemas[0])
        received = written = duplicates = 0
        async with self.db.transaction_as(auth, context, self.cache.current) as conn:
            for keys, args in statements(decoded, self.series_ids):
                row = await conn.fetchrow(WRITE_SQL, *args)
                received += row[0]
                written += row[1]
                duplicates += row[2]
                self.series_ids.remember(row[3], keys, row[4])
        return WriteResult(written, duplicates, received - written - duplicates)


def _rejection(decoded: decode.DecodedWrite, result: WriteResult) -> SamplesRejected:
    error = SamplesRejected(
        decoded.rejection_summary(result.written + result.duplicates, result.invalid_in_db),
        "The valid samples of this request were written; do not retry it.",
    )
    error.headers.update(result.headers())
    return error


def remote_write_route(endpoint: RemoteWrite) -> HTTPRouteHandler:
    """The Litestar route for ``endpoint``, mounted by ``create_app``; an ``ApiError`` is
    rendered there."""

    @post(PATH, status_code=200, include_in_schema=False)
    async def remote_write(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await request.body()
        scope = cast(MutableMapping[str, Any], request.scope)
        result = await endpoint.handle(scope_headers(scope), body, scope)
        return Response(b"", status_code=204, headers=result.headers())

    return remote_write
