"""``POST /api/v1/write``: Prometheus remote write (1.0 and 2.0) into ``ingest.write_samples``.

The request goes auth → decode (pure, :mod:`api.ingest.decode`) → one read-write
transaction as the token's role, one ``ingest.write_samples`` statement per batch of at
most ``BATCH_SAMPLES`` samples (four array parameters, binary protocol) → respond.

Status codes, chosen so that a sender following the remote-write spec loses nothing:

- 204: every sample stored (or already stored: a replay changes nothing) or deliberately
  skipped (stale markers, NaN, ±Inf; see :mod:`api.ingest.decode`).
- 400: malformed request (headers, snappy, protobuf): nothing written; or some samples
  invalid: the valid ones *are* written and the message counts the rejected ones. Senders
  do not retry a 400, and need not: retrying could not make those samples valid.
- 401 / 403: no token, a bad token, or a role without EXECUTE on ``ingest.write_samples``
  (the database decides; SQLSTATE 42501 is mapped in :mod:`api.rpc.errors`).
- 415: a content type, ``proto=`` or encoding we do not read.
- 503 (with ``Retry-After``) when the database is unreachable, 429 from the rate limiter,
  5xx for other server-side failures: the transaction rolled back, nothing was written,
  and the sender's retry lands exactly once because duplicates are ignored.

Senders that only do HTTP basic auth put a writer JWT in the password (user ignored).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, post
from prometheus_client import CollectorRegistry, Counter, Histogram

from api.config import Settings
from api.ingest import decode
from api.rpc.auth import Authenticator, AuthResult
from api.rpc.errors import (
    ApiError,
    InvalidBody,
    JwtDecodeError,
    SamplesRejected,
    UnsupportedMediaType,
    from_postgres,
)
from api.rpc.transaction import Database, RequestContext, parse_cookies, search_path_for

PATH = "/api/v1/write"
WRITE_SQL = (
    "select received, written, duplicates from ingest.write_samples("
    "$1::timestamptz[], $2::text[], $3::jsonb[], $4::float8[])"
)
BATCH_SAMPLES = 10_000  # per statement; a request of any size is one transaction


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
    decoded: decode.DecodedWrite
    written: int
    duplicates: int
    invalid_in_db: int  # samples the database refused to store (counted as rejected)

    def headers(self) -> dict[str, str]:
        """The remote-write 2.0 ``*-Written`` headers (sent for 1.0 too), plus duplicates."""
        return {
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
        registry: CollectorRegistry,
    ) -> None:
        self.settings = settings
        self.db = db
        self.authenticator = authenticator
        self.metrics = IngestMetrics(registry)
        # a compressed body is at most max_body_bytes; snappy inflates ~5x on metrics
        self.max_decompressed_bytes = max(settings.max_body_bytes * 8, 64 * 1024 * 1024)

    async def handle(self, headers: Mapping[str, str], body: bytes) -> WriteResult:
        """``headers`` with lower-case names. Raises ``ApiError`` for every non-204 answer."""
        started = time.perf_counter()
        event: dict[str, Any] = {"protocol": ""}
        try:
            auth = self.authenticator.authenticate(
                authorization_for_write(headers.get("authorization"))
            )
            if auth.anonymous:
                # no token at all: answer as the database would, without decoding the body
                raise from_postgres(
                    "42501", "permission denied for function write_samples", None,
                    "Send a writer JWT as a bearer token (or as the basic auth password)",
                    authenticated=False,
                )
            try:
                decoded = decode.decode_request(
                    body, headers.get("content-type"), headers.get("content-encoding"),
                    max_decompressed_bytes=self.max_decompressed_bytes,
                )
            except decode.UnsupportedMediaType as exc:
                raise UnsupportedMediaType(exc.message) from None
            except decode.RemoteWriteError as exc:
                raise InvalidBody(exc.message) from None
            event.update(
                protocol="1.0" if decoded.protocol is decode.Protocol.V1 else "2.0",
                received=decoded.received,
                skipped_stale=decoded.skipped_stale,
                skipped_non_finite=decoded.skipped_non_finite,
            )
            result = await self._write(auth, headers, decoded)
            rejected = decoded.rejected_total + result.invalid_in_db
            event.update(written=result.written, duplicates=result.duplicates, rejected=rejected)
            if rejected:
                raise _rejection(decoded, result)
        except ApiError as exc:
            self.metrics.emit(IngestFinished(
                status=exc.status, seconds=time.perf_counter() - started, **event
            ))
            raise
        self.metrics.emit(IngestFinished(status=204, seconds=time.perf_counter() - started,
                                         **event))
        return result

    async def _write(
        self, auth: AuthResult, headers: Mapping[str, str], decoded: decode.DecodedWrite
    ) -> WriteResult:
        context = RequestContext(
            method="POST", path=PATH, headers=dict(headers),
            cookies=parse_cookies(headers.get("cookie")),
            search_path=search_path_for(self.settings.db_schemas[0]),
        )
        received = written = duplicates = 0
        # Always one call, even with no samples: the database checks the role's privilege.
        async with self.db.transaction_as(auth, context) as conn:
            for start in range(0, max(decoded.accepted, 1), BATCH_SAMPLES):
                end = start + BATCH_SAMPLES
                row = await conn.fetchrow(
                    WRITE_SQL, decoded.times[start:end], decoded.names[start:end],
                    decoded.labels[start:end], decoded.values[start:end],
                )
                received += row[0]
                written += row[1]
                duplicates += row[2]
        return WriteResult(decoded, written, duplicates, received - written - duplicates)


def _rejection(decoded: decode.DecodedWrite, result: WriteResult) -> SamplesRejected:
    reasons = dict(decoded.rejected)
    if result.invalid_in_db:
        reasons["refused by the database"] = result.invalid_in_db
    rejected = sum(reasons.values())
    stored = result.written + result.duplicates
    details = "; ".join(f"{n}: {reason}" for reason, n in sorted(reasons.items()))
    error = SamplesRejected(
        f"{rejected} of {decoded.received} samples rejected, {stored} written: {details}",
        "The valid samples of this request were written; do not retry it.",
    )
    error.headers.update(result.headers())
    return error


def endpoint_for(app: Litestar) -> RemoteWrite:
    """The app's endpoint, made on first use from the shared ``Runtime`` of ``api.app``."""
    endpoint: RemoteWrite | None = app.state.get("remote_write")
    if endpoint is None:
        runtime = app.state.runtime
        endpoint = RemoteWrite(runtime.settings, runtime.db, runtime.authenticator,
                               runtime.observability.registry)
        app.state.remote_write = endpoint
    return endpoint


@post(PATH, status_code=200, include_in_schema=False)
async def remote_write(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The Litestar route: ``create_app(..., extra_route_handlers=[remote_write])``."""
    endpoint = endpoint_for(request.app)
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        result = await endpoint.handle(headers, body)
    except ApiError as exc:
        return Response(exc.body(), status_code=exc.status,
                        headers=dict(exc.response_headers()[1:]),
                        media_type="application/json; charset=utf-8")
    return Response(b"", status_code=204, headers=result.headers())
