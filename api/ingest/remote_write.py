"""``POST /api/v1/write``: Prometheus remote write (1.0 and 2.0) into ``ingest.write_samples``.

The request goes auth → rate limit (the ``ingest`` budget) → decode (pure,
:mod:`api.ingest.decode`) → one read-write transaction as the token's role, one
``ingest.write_series_samples_ms`` statement per batch of at most ``BATCH_SAMPLES`` samples
(array parameters, most as array literals: see ``WRITE_SQL``) → respond.

Series ids: the database returns the id of every series of a batch, and this process
keeps them (:class:`SeriesIds`, keyed by the decoder's series key) to send them along next
time, so a batch of known series costs the database one primary-key probe per series
instead of routing, JSON parsing and a (schema, name, labels) lookup. The database only
uses an id while the routing rules are those it was resolved under (the ``routes``
token it returns) and the id still names a series of that name; anything else is
resolved from the labels, which are always sent. So a stale or wrong cache costs time,
never correctness.

Status codes, chosen so that a sender following the remote-write spec loses nothing:

- 204: every sample taken: stored (or already stored: a replay changes nothing), NaN and
  ±Inf included, or a stale marker recorded as the end of its series (docs/INGEST.md);
  every exemplar stored, in the same transaction (:mod:`api.ingest.exemplars`).
- 400: malformed request (headers, snappy, protobuf, a body of the other version than the
  ``Content-Type`` says): nothing written; or some samples or exemplars invalid or over a
  limit (the ingest window, label limits, new series caps, a conflicting duplicate): the
  valid ones *are* written and the message counts the rejected ones. Senders do not retry a 400,
  and need not: retrying could not make those samples valid.
- 401 / 403: no token, a bad token, or a role without EXECUTE on
  ``ingest.write_series_samples`` (the database decides; SQLSTATE 42501 is mapped in
  :mod:`api.errors`).
- 415: a content type, ``proto=`` or encoding we do not read.
- 429 (with ``Retry-After``): the token's ``ingest`` budget of ``METRICS_RPC_RATE_LIMITS``
  is used up; checked right after auth, before decoding, so nothing is written.
- 503 (with ``Retry-After``) when the database is unreachable, shutting down or starting
  up, or the transaction lost a race (deadlock, serialization); 500 for other server-side
  failures. Never a 4xx for a database error the payload did not cause: the transaction
  rolled back, nothing was written, and the sender's retry lands exactly once because
  duplicates are ignored. Each such failure is logged once.

Decoding a large body (snappy + protobuf, up to tens of MB) runs in worker threads, at
most ``DECODE_THREADS`` at once, so the event loop keeps serving reads and ``/live``
meanwhile; a body up to ``INLINE_DECODE_BYTES`` uncompressed (a usual Prometheus request
of 2,000 samples is ~150 KB) takes a few ms and is decoded on the loop.

Senders that only do HTTP basic auth put a writer JWT in the password (user ignored).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg
import msgspec
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CollectorRegistry, Counter, Histogram

from api.config import Settings
from api.errors import (
    ApiError,
    DatabaseUnavailable,
    DbConnectionError,
    InternalError,
    JwtDecodeError,
    PoolTimeout,
    SamplesRejected,
    from_postgres,
)
from api.http import RequestContext, scope_headers
from api.ingest import decode
from api.ingest.exemplars import ExemplarsWritten, series_of, write_exemplars
from api.observability import DatabaseUnavailable as DatabaseUnavailableEvent
from api.observability import Observability
from api.ratelimit import RequestRateLimiter
from api.rpc import Authenticator, AuthResult, Database, SchemaCacheHolder

log = logging.getLogger("metrics_rpc.ingest")

PATH = "/api/v1/write"
# Times go as epoch milliseconds (int8[]): asyncpg encodes them ~5x faster than datetimes,
# a sizeable share of a high-churn backfill's per-sample cost. The other arrays go as one
# text each, an array literal (int_array, text_array, decimal_array): asyncpg encodes a list
# element by element at ~200-300 ns each (mostly isinstance checks), several times what the
# literal costs the API and PostgreSQL together. Not so: the values (a literal would lose a
# stale marker's NaN payload) and the labels (JSON: PostgreSQL reads the escaped quotes of a
# literal slower than the API saves).
WRITE_SQL = (
    "select received, written, duplicates, routes, series_ids, conflicts, too_old, too_new, "
    "refused, new_series, refused_series from ingest.write_series_samples_ms("
    "$1::text, $2::text::int8[], $3::text::text[], $4::text[], $5::text::int4[], "
    "$6::text::int8[], $7::float8[], $8::text::text[], $9::timestamptz, $10::interval, "
    "$11::int4)"
)
BATCH_SAMPLES = 10_000  # per statement; a request of any size is one transaction
SERIES_ID_CACHE_SIZE = 1_000_000  # series keys remembered (~250 bytes each); emptied when full
DECODE_THREADS = 2  # large requests decoded at once, each in a worker thread
# Bodies up to this size (uncompressed) are decoded on the event loop: a few ms, cheaper
# than a worker thread, whose share of the GIL would delay the loop's other requests.
INLINE_DECODE_BYTES = 1 << 20
# SQLSTATEs of a database that is going away or coming back, or of a transaction that
# lost a race: the same request succeeds when retried.
RETRYABLE_SQLSTATE_CLASSES = ("08", "53", "57")
RETRYABLE_SQLSTATES = ("40001", "40P01", "55P03", "55006")


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


class NewSeriesBudget:
    """New series per writer and minute (``METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_MINUTE``).

    Fixed one-minute windows of ``clock``, in this process. A write reserves what it may
    register before it runs and gives back what it did not use, so concurrent requests
    of one writer share the budget without overshooting it.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.used: dict[str, tuple[int, int]] = {}  # writer → (minute, reserved or used)

    def reserve(self, writer: str, wanted: int) -> int:
        minute = int(self.clock() // 60)
        window, used = self.used.get(writer, (minute, 0))
        if window != minute:
            used = 0
        granted = max(0, min(wanted, self.per_minute - used))
        if len(self.used) > 10_000:  # forget writers of past minutes
            self.used = {w: v for w, v in self.used.items() if v[0] == minute}
        self.used[writer] = (minute, used + granted)
        return granted

    def give_back(self, writer: str, unused: int) -> None:
        minute = int(self.clock() // 60)
        window, used = self.used.get(writer, (minute, 0))
        if window == minute and unused > 0:
            self.used[writer] = (minute, max(0, used - unused))


Statement = tuple[list[decode.SeriesKey], tuple[Any, ...]]


def statements(decoded: decode.DecodedWrite, series_ids: SeriesIds) -> list[Statement]:
    """The ``WRITE_SQL`` calls of one request: (series keys, arguments) per statement.

    At most ``BATCH_SAMPLES`` samples each, with the series those samples use. Always at
    least one call, even with no samples: the database checks the role's privilege.
    """
    total = decoded.accepted
    if total <= BATCH_SAMPLES:
        return [_statement(decoded.series_keys, decoded.series, decoded.millis, decoded.values,
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
        out.append(_statement(keys, positions, decoded.millis[start:end],
                              decoded.values[start:end], decoded.amounts[start:end],
                              series_ids))
    return out


def _statement(keys: list[decode.SeriesKey], positions: list[int], millis: list[int],
               values: list[float], amounts: list[str | None],
               series_ids: SeriesIds) -> Statement:
    routes, ids = series_ids.lookup(keys)
    return keys, (routes, int_array(ids), text_array([key[0] for key in keys]),
                  [key[1] for key in keys], int_array(positions), int_array(millis), values,
                  decimal_array(amounts))


def int_array(values: list[int] | list[int | None]) -> str:
    """Ints and None as a PostgreSQL array literal, ``{1, NULL, 3}``: built in C."""
    return "{" + repr(values)[1:-1].replace("None", "NULL") + "}"


def text_array(texts: list[str]) -> str:
    """Texts without a NUL (series names) as a PostgreSQL text[] literal,
    ``{"a","b \\"c\\""}``: each quoted, its backslashes and quotes escaped, in C."""
    if not texts:
        return "{}"
    joined = "\x00".join(texts).replace("\\", "\\\\").replace('"', '\\"')
    return '{"' + joined.replace("\x00", '","') + '"}'


def decimal_array(texts: list[str | None]) -> str:
    """The decoder's value labels (decimal numbers: no quote, no backslash, no letter of
    None) and None as a PostgreSQL text[] literal, ``{"12", NULL}``: built in C."""
    literal = repr(texts)
    if "\\" in literal:  # a tab or newline around a number, escaped by repr: one by one
        return "{" + ",".join("NULL" if text is None else f'"{text}"' for text in texts) + "}"
    return "{" + literal[1:-1].replace("None", "NULL").replace("'", '"') + "}"


class IngestFinished(msgspec.Struct, frozen=True):
    """One remote-write request, as the metrics see it."""

    protocol: str  # "1.0", "2.0" or "" when the headers did not say
    status: int
    seconds: float
    received: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: int = 0
    limited: dict[str, int] = {}  # limit → samples refused by it (also in ``rejected``)
    series_refused: int = 0  # series over the new-series caps
    exemplars_received: int = 0
    exemplars_written: int = 0  # stored, new or already present
    exemplars_rejected: int = 0


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
        self.limited = Counter(
            "metrics_rpc_ingest_samples_limited",
            "Samples refused by an ingest limit (too_old, too_new, label_limits, "
            "new_series, conflict), also counted as rejected",
            ["limit"], registry=registry,
        )
        self.series_refused = Counter(
            "metrics_rpc_ingest_series_refused",
            "New series refused by METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_REQUEST / _PER_MINUTE",
            registry=registry,
        )
        self.exemplars = Counter(
            "metrics_rpc_ingest_exemplars", "Exemplars by what became of them "
            "(received; written: stored, new or already present; rejected: answered with 400)",
            ["outcome"], registry=registry,
        )

    def emit(self, event: IngestFinished) -> None:
        self.requests.labels(event.protocol, str(event.status)).inc()
        self.latency.observe(event.seconds)
        self.received.inc(event.received)
        self.written.inc(event.written)
        self.duplicates.inc(event.duplicates)
        self.rejected.inc(event.rejected)
        for limit, count in event.limited.items():
            self.limited.labels(limit).inc(count)
        self.series_refused.inc(event.series_refused)
        self.exemplars.labels("received").inc(event.exemplars_received)
        self.exemplars.labels("written").inc(event.exemplars_written)
        self.exemplars.labels("rejected").inc(event.exemplars_rejected)


class WriteResult(msgspec.Struct, frozen=True):
    written: int
    duplicates: int
    invalid_in_db: int  # samples the database refused to store for another reason
    limit_headers: dict[str, str] = {}  # RateLimit-* of the ingest budget
    limited: dict[str, int] = {}  # limit (see IngestMetrics.limited) → samples refused
    series_refused: int = 0
    rw2: bool = True  # a remote write 2.0 request: answered with the 2.0 *-Written headers
    exemplars: ExemplarsWritten = ExemplarsWritten()

    @property
    def rejected(self) -> int:
        return self.invalid_in_db + sum(self.limited.values())

    def headers(self) -> dict[str, str]:
        """Our own counts (stored, new or already present; of those, duplicates), and for
        2.0 requests the ``*-Written`` headers. 1.0 has none, as Prometheus' own receiver
        answers 1.0: a 1.0 sender reads no count, and a test suite reads a sent one as
        the 2.0 promise."""
        stored = str(self.written + self.duplicates)
        headers = {
            **self.limit_headers,
            "X-Metrics-Rpc-Samples-Written": stored,
            "X-Metrics-Rpc-Samples-Duplicate": str(self.duplicates),
            "X-Metrics-Rpc-Exemplars-Written": str(self.exemplars.written),
        }
        if self.rw2:
            headers.update({
                "X-Prometheus-Remote-Write-Samples-Written": stored,
                "X-Prometheus-Remote-Write-Histograms-Written": "0",
                "X-Prometheus-Remote-Write-Exemplars-Written": str(self.exemplars.written),
            })
        return headers


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
        self.label_limits = decode.LabelLimits(
            max_name_length=settings.ingest_max_label_name_length,
            max_value_length=settings.ingest_max_label_value_length,
            max_labels=settings.ingest_max_labels_per_series,
        )
        self.max_future = timedelta(seconds=settings.ingest_max_future)
        self.new_series = NewSeriesBudget(settings.ingest_max_new_series_per_minute)
        self.clock: Callable[[], float] = time.time  # the ingest window's clock
        self.decoder = decode.decode_request  # called in a worker thread
        self._decoding = asyncio.Semaphore(DECODE_THREADS)

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
            decoded = await self._decode(headers, body)
            event.update(
                protocol="1.0" if decoded.protocol is decode.Protocol.V1 else "2.0",
                received=decoded.received,
            )
            result = await self._write_or_5xx(auth, headers, decoded)
            if decoded.protocol is decode.Protocol.V1:
                result = msgspec.structs.replace(result, rw2=False)
            if limit_headers:
                result = msgspec.structs.replace(result, limit_headers=dict(limit_headers))
            rejected = decoded.rejected_total + result.rejected
            limited = dict(result.limited)
            if decoded.label_limited:
                limited["label_limits"] = decoded.label_limited
            event.update(written=result.written, duplicates=result.duplicates, rejected=rejected,
                         limited=limited, series_refused=result.series_refused)
            exemplars_rejected = (sum(decoded.exemplars_rejected.values())
                                  + sum(result.exemplars.rejected.values()))
            event.update(exemplars_received=decoded.exemplars_received,
                         exemplars_written=result.exemplars.written,
                         exemplars_rejected=exemplars_rejected)
            if rejected or exemplars_rejected:
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

    async def _decode(self, headers: Mapping[str, str], body: bytes) -> decode.DecodedWrite:
        """Decompress and decode; a large body in a worker thread, so it cannot stall the
        loop (and /live, and every read) for seconds."""
        run = functools.partial(
            self.decoder, body, headers.get("content-type"), headers.get("content-encoding"),
            max_decompressed_bytes=self.max_decompressed_bytes, limits=self.label_limits)
        if decode.decompressed_length(body) <= INLINE_DECODE_BYTES:
            return run()
        async with self._decoding:
            return await asyncio.to_thread(run)

    async def _write_or_5xx(
        self, auth: AuthResult, headers: Mapping[str, str], decoded: decode.DecodedWrite
    ) -> WriteResult:
        """``_write``, with every failure the payload did not cause as a 5xx: retryable
        (503) for an unavailable database, a pool timeout, a serialization failure or a lock
        timeout, else 500. Only 42501 (the role may not write) stays a 4xx."""
        try:
            return await self._write(auth, headers, decoded)
        except (DatabaseUnavailable, PoolTimeout):
            raise  # already a 503/504 the sender retries; counted and logged by handle()
        except ApiError as error:
            if error.code == "42501":  # the role may not write: the database decided
                raise
            raise _server_side(error.code, error.message) from None
        except (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
            raise DbConnectionError(f"{type(exc).__name__}: {exc}") from None
        except Exception:  # a bug of ours: logged with its traceback, answered without it
            log.exception("remote write failed, answered 500")
            raise InternalError() from None

    async def _write(
        self, auth: AuthResult, headers: Mapping[str, str], decoded: decode.DecodedWrite
    ) -> WriteResult:
        context = RequestContext.of("POST", PATH, dict(headers), self.settings.db_schemas[0])
        now = datetime.fromtimestamp(self.clock(), UTC)
        writer = f"sub:{auth.sub}" if auth.sub else f"role:{auth.role}"
        new_series_left = self.settings.ingest_max_new_series_per_request
        received = written = duplicates = conflicts = too_old = too_new = refused = 0
        series_refused = 0
        async with self.db.transaction_as(auth, context, self.cache.current) as conn:
            for keys, args in statements(decoded, self.series_ids):
                granted = self.new_series.reserve(writer, min(new_series_left, len(keys)))
                row = None
                try:
                    row = await conn.fetchrow(WRITE_SQL, *args, now, self.max_future, granted)
                finally:  # a rolled-back write registered nothing
                    created = row[9] if row is not None else 0
                    self.new_series.give_back(writer, granted - created)
                new_series_left -= created
                received += row[0]
                written += row[1]
                duplicates += row[2]
                self.series_ids.remember(row[3], keys, row[4])
                conflicts += row[5]
                too_old += row[6]
                too_new += row[7]
                refused += row[8]
                series_refused += row[10]
            exemplars = ExemplarsWritten()
            if decoded.exemplar_keys:  # same transaction: the request lands whole or not at all
                keys, positions = series_of(decoded)
                granted = self.new_series.reserve(writer, min(max(new_series_left, 0), len(keys)))
                exemplars = await write_exemplars(conn, decoded, keys, positions,
                                                  self.series_ids.lookup(keys), now,
                                                  self.max_future, granted)
                self.new_series.give_back(writer, granted - exemplars.new_series)
        limited = {name: n for name, n in (("conflict", conflicts), ("too_old", too_old),
                                            ("too_new", too_new), ("new_series", refused)) if n}
        invalid = received - written - duplicates - sum(limited.values())
        return WriteResult(written, duplicates, invalid, limited=limited,
                           series_refused=series_refused, exemplars=exemplars)


_LIMIT_REASONS = {
    "conflict": "duplicate sample for timestamp with a different value (the stored one kept)",
    "too_old": "older than the retention",
    "too_new": "too far in the future (METRICS_RPC_INGEST_MAX_FUTURE)",
    "new_series": "new series over the limit (METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_REQUEST"
                  " / _PER_MINUTE)",
}


def _server_side(code: str, message: str) -> ApiError:
    """A database error the payload did not cause, as a 5xx the sender retries."""
    if code.startswith(RETRYABLE_SQLSTATE_CLASSES) or code in RETRYABLE_SQLSTATES:
        return DbConnectionError(code)  # counted and logged once by handle()
    log.warning("remote write failed, answered 500: %s %s", code, message)
    return InternalError(code or None)


def _rejection(decoded: decode.DecodedWrite, result: WriteResult) -> SamplesRejected:
    reasons = {_LIMIT_REASONS[limit]: n for limit, n in result.limited.items()}
    summaries = []
    if decoded.rejected_total or result.rejected:
        summaries.append(decoded.rejection_summary(result.written + result.duplicates,
                                                   result.invalid_in_db, reasons))
    if decoded.exemplars_rejected or result.exemplars.rejected:
        summaries.append(decoded.exemplar_rejection_summary(result.exemplars.written,
                                                            result.exemplars.rejected))
    error = SamplesRejected(
        ". ".join(summaries),
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
