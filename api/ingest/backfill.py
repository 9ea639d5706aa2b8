"""``metrics-rpc backfill``: copy history from a Prometheus server through our own API.

Reads ``/api/v1/query_range`` of the source Prometheus window by window (a day, or fewer
steps when the step is small, since Prometheus refuses more than 11,000 points per series)
and POSTs the samples as remote-write requests (~2,000 samples each, like Prometheus) to
``/api/v1/write`` of the API at ``METRICS_RPC_API_URL`` with the writer token
``METRICS_RPC_TOKEN``. It never talks to the database: the API is its only door.

Resuming is re-running: the API ignores exact duplicates, so writing a window again is
harmless. ``--dry-run`` fetches and counts but sends nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tqdm import tqdm

from api.client import api_client, error_message, retryable
from api.config import Settings
from api.ingest.encode import V1_HEADERS, Series, write_request_v1
from api.tokens import parse_duration

DEFAULT_MATCH = '{__name__=~".+"}'
SAMPLES_PER_REQUEST = 2000
MAX_POINTS_PER_QUERY = 10_000  # Prometheus refuses > 11,000 points per series
WINDOW_SECONDS = 86_400
RETRIES = 8
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
USER_AGENT = "metrics-rpc-backfill"


class BackfillError(Exception):
    """Something that stops the backfill (bad source answer, auth refused, retries spent)."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prometheus", required=True, metavar="URL",
                        help="base URL of the source Prometheus, e.g. http://prometheus:9090")
    parser.add_argument("--from", dest="start", required=True, type=parse_time, metavar="DATE",
                        help="start (inclusive): 2024-01-31, 2024-01-31T12:00:00Z or unix seconds")
    parser.add_argument("--to", dest="end", required=True, type=parse_time, metavar="DATE",
                        help="end (exclusive), same formats")
    parser.add_argument("--match", action="append", default=[], metavar="SELECTOR",
                        help=f"series selector, repeatable (default {DEFAULT_MATCH})")
    parser.add_argument("--step", default="1m", type=_step, help="resolution (default 1m)")
    parser.add_argument("--dry-run", action="store_true",
                        help="fetch and count, print what would be written, send nothing")
    parser.add_argument("--api-url", default=None,
                        help="our API (default METRICS_RPC_API_URL)")
    parser.add_argument("--samples-per-request", type=int, default=SAMPLES_PER_REQUEST,
                        help=f"samples per remote-write request (default {SAMPLES_PER_REQUEST})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """0 when everything was written (or would be), 1 when samples were rejected, 2 on error."""
    if args.end <= args.start:
        raise ValueError("--to must be after --from")
    selectors = args.match or [DEFAULT_MATCH]
    plan = windows(args.start, args.end, args.step)
    tally = Tally()
    with ExitStack() as stack:
        sink: RemoteWriteSink | None = None
        if not args.dry_run:  # a dry run only looks: it needs no token
            sink = RemoteWriteSink(stack.enter_context(
                api_client(settings, USER_AGENT, args.api_url, timeout=60)))
        source_http = stack.enter_context(
            httpx.Client(base_url=args.prometheus.rstrip("/"), timeout=120))
        source = PrometheusSource(source_http)
        bar = tqdm(total=len(plan) * len(selectors), unit="window", desc="backfill",
                   disable=args.no_progress, file=sys.stderr)
        try:
            for window_start, window_end in plan:
                for selector in selectors:
                    _copy_window(source, sink, selector, window_start, window_end, args, tally, bar)
                    bar.update(1)
                    bar.set_postfix(samples=tally.samples, written=tally.written)
        except BackfillError as exc:
            bar.close()
            print(f"metrics-rpc backfill: {exc}", file=sys.stderr)
            print(f"metrics-rpc backfill: re-run to resume (windows already written are "
                  f"skipped as duplicates): {tally.summary(args.dry_run)}", file=sys.stderr)
            return 2
        bar.close()
    print(tally.summary(args.dry_run))
    return 1 if tally.rejected else 0


def _copy_window(
    source: PrometheusSource,
    sink: RemoteWriteSink | None,
    selector: str,
    start: datetime,
    end: datetime,
    args: argparse.Namespace,
    tally: Tally,
    bar: tqdm,
) -> None:
    result = source.query_range(selector, start, end, args.step)
    # Windows are half-open; only the last one keeps a point exactly at --to.
    keep_until = _ms(end) + (1 if end >= args.end else 0)
    series, skipped = matrix_to_series(result, keep_until)
    tally.skipped += skipped
    samples = sum(len(one.samples) for one in series)
    tally.samples += samples
    tally.add_series(one.labels for one in series)
    requests = list(batches(series, args.samples_per_request))
    if sink is None:
        bar.write(
            f"would write {samples} samples of {len(series)} series in {len(requests)} "
            f"requests: {selector} [{_iso(start)}, {_iso(end)})"
        )
        return
    for request in requests:
        outcome = sink.write(request)
        tally.requests += 1
        tally.written += outcome.written
        if outcome.rejected_message:
            tally.rejected += 1
            bar.write(f"rejected by the API ({selector} [{_iso(start)}, {_iso(end)})): "
                      f"{outcome.rejected_message}")


# --- pure parts -----------------------------------------------------------------------


def parse_time(text: str) -> datetime:
    """``2024-01-31``, ``2024-01-31T12:00:00Z`` / ``+02:00`` or unix seconds → aware UTC."""
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (use 2024-01-31, 2024-01-31T12:00:00Z or unix seconds)"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _step(text: str) -> timedelta:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if seconds <= 0:
        raise argparse.ArgumentTypeError("--step must be positive")
    return timedelta(seconds=seconds)


def windows(start: datetime, end: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
    """Half-open windows of a day (fewer steps when the step is small), aligned to ``step``."""
    steps = max(1, min(WINDOW_SECONDS // int(step.total_seconds()), MAX_POINTS_PER_QUERY))
    size = step * steps
    out = []
    cursor = start
    while cursor < end:
        out.append((cursor, min(cursor + size, end)))
        cursor += size
    return out


def matrix_to_series(result: Sequence[Any], keep_until_ms: int) -> tuple[list[Series], int]:
    """A ``query_range`` matrix result → series, and how many points were skipped.

    Values come as strings; NaN and ±Inf are skipped (the API would skip them too), as are
    points at or after ``keep_until_ms``.
    """
    out: list[Series] = []
    skipped = 0
    for item in result:
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        samples = []
        for stamp, text in item.get("values") or ():
            ms = round(float(stamp) * 1000)
            if ms >= keep_until_ms:
                continue
            value = float(text)
            if not math.isfinite(value):
                skipped += 1
                continue
            samples.append((ms, value))
        if samples:
            out.append(Series(labels, samples))
    return out, skipped


def batches(series: Iterable[Series], size: int) -> Iterator[list[Series]]:
    """Series grouped into requests of at most ``size`` samples (long series are split)."""
    batch: list[Series] = []
    room = size
    for one in series:
        samples = one.samples
        while samples:
            take, samples = samples[:room], samples[room:]
            batch.append(Series(one.labels, take))
            room -= len(take)
            if room == 0:
                yield batch
                batch, room = [], size
    if batch:
        yield batch


def _ms(when: datetime) -> int:
    return round(when.timestamp() * 1000)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Tally:
    # Hashes, not label sets: a run over millions of series with big-number labels would
    # otherwise keep them all; a 64-bit collision only undercounts the summary by one.
    series: set[int] = field(default_factory=set)
    samples: int = 0
    skipped: int = 0
    requests: int = 0
    written: int = 0
    rejected: int = 0  # requests the API answered 400

    def add_series(self, label_sets: Iterable[Mapping[str, str]]) -> None:
        self.series.update(hash(frozenset(labels.items())) for labels in label_sets)

    def summary(self, dry_run: bool) -> str:
        if dry_run:
            return (f"dry run: would write {self.samples} samples of {len(self.series)} series "
                    f"({self.skipped} NaN/Inf points skipped); nothing was sent")
        return (f"sent {self.samples} samples of {len(self.series)} series in {self.requests} "
                f"requests; {self.written} new, {self.samples - self.written} already present "
                f"or rejected; {self.rejected} requests rejected; {self.skipped} NaN/Inf "
                f"points skipped")


# --- the two HTTP ends ------------------------------------------------------------------


class PrometheusSource:
    """The source Prometheus' HTTP API."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def query_range(
        self, query: str, start: datetime, end: datetime, step: timedelta
    ) -> list[Any]:
        params = {"query": query, "start": f"{start.timestamp():.3f}",
                  "end": f"{end.timestamp():.3f}", "step": f"{step.total_seconds():g}s"}
        try:
            response = self._http.get("/api/v1/query_range", params=params)
        except httpx.HTTPError as exc:
            raise BackfillError(f"source Prometheus unreachable: {exc}") from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise BackfillError(
                f"source Prometheus answered {response.status_code} without JSON"
            ) from exc
        if response.status_code != 200 or body.get("status") != "success":
            raise BackfillError(f"source Prometheus refused {query!r}: "
                                f"{body.get('errorType')}: {body.get('error')}")
        data = body.get("data") or {}
        if data.get("resultType") != "matrix":
            raise BackfillError(f"expected a matrix from query_range, got {data.get('resultType')}")
        result: list[Any] = data.get("result") or []
        return result


@dataclass
class WriteOutcome:
    written: int
    rejected_message: str | None = None


class RemoteWriteSink:
    """``POST /api/v1/write`` of our API, retrying what a remote-write sender retries."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http  # from api_client: base URL, token and user agent set

    def write(self, series: Sequence[Series]) -> WriteOutcome:
        body = write_request_v1(series)
        samples = sum(len(one.samples) for one in series)
        delay = RETRY_BASE_SECONDS
        for attempt in range(RETRIES + 1):
            try:
                response = self._http.post("/api/v1/write", content=body, headers=V1_HEADERS)
            except httpx.HTTPError as exc:
                problem = f"API unreachable: {exc}"
            else:
                # stored = new + already present (our API says how many were duplicates)
                stored = int(response.headers.get("X-Metrics-Rpc-Samples-Written",
                                                  samples if response.is_success else 0))
                written = stored - int(response.headers.get("X-Metrics-Rpc-Samples-Duplicate", 0))
                if response.is_success:
                    return WriteOutcome(written)
                if response.status_code == 400:
                    return WriteOutcome(written, error_message(response))
                if not retryable(response.status_code):
                    raise BackfillError(
                        f"API refused the write ({response.status_code}): "
                        f"{error_message(response)}"
                    )
                problem = f"API answered {response.status_code}: {error_message(response)}"
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    delay = max(delay, float(retry_after))
            if attempt == RETRIES:
                raise BackfillError(f"giving up after {RETRIES} retries: {problem}")
            time.sleep(min(delay, RETRY_MAX_SECONDS))
            delay *= 2
        raise AssertionError("unreachable")
