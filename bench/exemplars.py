"""What exemplars cost the ingest: requests with and without them through ``/api/v1/write``.

    python -m bench.exemplars                       # 10 rounds of 20 requests x 2,000 samples
    python -m bench.exemplars --share 1.0           # an exemplar on every sample

Each request is one scrape of ``--batch`` series (bench.ingest's fleet, remote write 1.0,
4 senders). In every round the same scrape shape is sent twice at new times: once plain,
once with an exemplar (a trace_id and span_id, as an instrumented counter carries) on a
``--share`` of its samples; rounds alternate the two, so a busy shared machine slows both
alike. Then the exemplar requests are replayed (every sample and exemplar a duplicate).
Printed: samples/s per phase (median of the rounds) and with/without, the ratio to compare
between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from api.ingest.encode import Series, write_request_v1
from bench import harness
from bench.ingest import SCRAPE_EVERY, Sample, fleet, scrape, send_all


def body_with_exemplars(samples: list[Sample], share: float, rng: random.Random) -> bytes:
    """The samples as one 1.0 request, a ``share`` of them with an exemplar."""
    series = []
    for ms, name, labels, value in samples:
        exemplars = []
        if rng.random() < share:
            trace = f"{rng.getrandbits(128):032x}"
            exemplars.append((ms, value, {"trace_id": trace, "span_id": trace[:16]}))
        series.append(Series({"__name__": name, **labels}, [(ms, value)], exemplars))
    return write_request_v1(series)


def plain_body(samples: list[Sample]) -> bytes:
    return write_request_v1(Series({"__name__": name, **labels}, [(ms, value)])
                            for ms, name, labels, value in samples)


def run(*, rounds: int, requests: int, batch: int, share: float,
        concurrency: int) -> dict[str, Any]:
    cluster = harness.bench_cluster()
    db = "bench_exemplars"
    harness.ensure_database(cluster, db, fresh=True)
    series = fleet(batch)
    rng = random.Random(11)
    every = int(SCRAPE_EVERY.total_seconds() * 1000)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = int((now - timedelta(hours=6)).timestamp() * 1000)
    harness.heading(f"Exemplars: {rounds} rounds x {requests} requests x {batch} samples, "
                    f"exemplars on {share:.0%} of them, {concurrency} senders")
    plain, with_exemplars = [], []
    tick = 0
    for _ in range(rounds):
        plain.append([plain_body(scrape(series, start + every * (tick + i), rng))
                      for i in range(requests)])
        tick += requests
        with_exemplars.append([body_with_exemplars(scrape(series, start + every * (tick + i),
                                                          rng), share, rng)
                               for i in range(requests)])
        tick += requests
    token = harness.writer_token("bench-exemplars")
    env = harness.api_env(cluster, db, pool=max(10, concurrency))
    total = requests * batch
    rates: dict[str, list[float]] = {"plain": [], "exemplars": [], "replay": []}
    with harness.running("api", "uvicorn", env, ready_path="/ready") as (_proc, base):
        asyncio.run(send_all(base, token, plain[0][:1], 1))  # warm-up: pool, partitions
        for plain_round, exemplar_round in zip(plain, with_exemplars, strict=True):
            for phase, bodies in (("plain", plain_round), ("exemplars", exemplar_round)):
                seconds, _lat, failed, _ = asyncio.run(send_all(base, token, bodies,
                                                                concurrency))
                if failed:
                    harness.problem(f"{phase}: {failed} requests failed")
                rates[phase].append(total / seconds)
        for exemplar_round in with_exemplars:
            seconds, _lat, failed, _ = asyncio.run(send_all(base, token, exemplar_round,
                                                            concurrency))
            if failed:
                harness.problem(f"replay: {failed} requests failed")
            rates["replay"].append(total / seconds)
    out: dict[str, Any] = {"rounds": rounds, "requests": requests, "batch": batch,
                           "share": share, "concurrency": concurrency}
    for phase, values in rates.items():
        out[phase] = harness.median(values)
        print(f"{phase:<10} {out[phase]:>10,.0f} samples/s (median of {len(values)} rounds)")
    print(f"with/without exemplars: {harness.ratio(out['exemplars'], out['plain'])}")
    print(f"replay/first write:     {harness.ratio(out['replay'], out['exemplars'])}")
    path = harness.save_result("exemplars", out)
    print(f"saved to {path.relative_to(harness.REPO)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ingest with and without exemplars")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=20, help="requests per phase and round")
    parser.add_argument("--batch", type=int, default=2000, help="samples per request")
    parser.add_argument("--share", type=float, default=0.1,
                        help="share of samples carrying an exemplar")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    run(rounds=args.rounds, requests=args.requests, batch=args.batch, share=args.share,
        concurrency=args.concurrency)
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
