"""api/ratelimit.py: configuration, client identity, decisions, Redis, and over HTTP."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
import pytest
from limits import RateLimitItem, parse_many
from time_machine import TimeMachineFixture

from api import ratelimit
from api.config import ConfigError, Settings, load_settings
from api.errors import RateLimited
from api.pgcluster import free_port
from api.ratelimit import (
    DEFAULT_INGEST_LIMIT,
    RateLimitConfig,
    RateLimitDecision,
    RateLimiter,
    RateLimitUnavailable,
    RequestRateLimiter,
    client_ip,
    parse_rate_limits,
    parse_trusted_proxies,
    rejection,
)
from api.rpc.auth import AuthResult
from tests.api import hardening_db as hardening
from tests.api.apiserver import running_app
from tests.api.redis_server import redis_server
from tests.pgfixtures import DbInfo

T = TypeVar("T")
START = 1_800_000_000.0  # where the stopped clock of the clock-driven tests starts


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


def limiter(limits: str, storage: str = "memory://", **kwargs: Any) -> RateLimiter:
    settings = Settings(rate_limits=limits, rate_limit_storage=storage, **kwargs)
    made = RequestRateLimiter.from_settings(settings)
    assert made is not None
    return made.limiter


def items(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text))


# --- configuration -------------------------------------------------------------------


def test_default_limits() -> None:
    assert parse_rate_limits(Settings().rate_limits) == {
        "web_anon": items("60/minute"),
        "writer": items("600/minute"),
    }


def test_limits_with_several_windows_and_ingest() -> None:
    text = "web_anon=10/second,60/minute; writer=600/minute;ingest=120/minute;default=5/second"
    assert parse_rate_limits(text) == {
        "web_anon": items("10/second,60/minute"),
        "writer": items("600/minute"),
        "ingest": items("120/minute"),
        "default": items("5/second"),
    }


def test_segment_without_role_adds_to_previous_role() -> None:
    assert parse_rate_limits("web_anon=10/second;60/minute") == {
        "web_anon": items("10/second") + items("60/minute")
    }
    assert len(parse_rate_limits("web_anon=10/second;60/minute")["web_anon"]) == 2


@pytest.mark.parametrize("text", ["off", "OFF", "", "  "])
def test_off_disables(text: str) -> None:
    assert parse_rate_limits(text) == {}
    assert RequestRateLimiter.from_settings(Settings(rate_limits=text)) is None


def test_role_can_be_unlimited() -> None:
    assert parse_rate_limits("writer=off;web_anon=1/second") == {
        "writer": (),
        "web_anon": items("1/second"),
    }


@pytest.mark.parametrize("text", ["web_anon=lots", "60/minute", "=5/second", "writer=5/fortnight"])
def test_bad_limits_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="METRICS_RPC_RATE_LIMITS"):
        parse_rate_limits(text)


def test_config_from_environment() -> None:
    settings = load_settings(
        {
            "METRICS_RPC_RATE_LIMITS": "web_anon=2/second",
            "METRICS_RPC_RATE_LIMIT_STORAGE": "redis://cache:6379/1",
            "METRICS_RPC_RATE_LIMIT_FAIL_OPEN": "false",
            "METRICS_RPC_TRUSTED_PROXIES": "10.0.0.0/8",
        }
    )
    config = RateLimitConfig.from_settings(settings)
    assert config == RateLimitConfig(
        limits={"web_anon": items("2/second"), "ingest": items(DEFAULT_INGEST_LIMIT)},
        storage_uri="redis://cache:6379/1", fail_open=False,
        trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),),
    )


def test_ingest_has_its_own_budget_unless_configured() -> None:
    explicit = load_settings({"METRICS_RPC_RATE_LIMITS": "writer=5/minute;ingest=10/second"})
    assert RateLimitConfig.from_settings(explicit).limits["ingest"] == items("10/second")
    off = load_settings({"METRICS_RPC_RATE_LIMITS": "off"})
    assert RateLimitConfig.from_settings(off).limits == {}


def test_unknown_storage_is_refused() -> None:
    with pytest.raises(ConfigError, match="METRICS_RPC_RATE_LIMIT_STORAGE"):
        limiter("web_anon=1/second", storage="carrier-pigeon://x")


# --- client identity -----------------------------------------------------------------

TRUSTED = parse_trusted_proxies(["10.0.0.0/8", "127.0.0.1", "::1"])


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.9", [], "203.0.113.9"),
        # an untrusted peer cannot choose its identity with the header
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),
        # a trusted proxy: the address it appended is the client
        ("10.1.2.3", ["198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        ("::1", ["198.51.100.7"], "198.51.100.7"),
        # a client forging a chain in front of a trusted proxy: rightmost untrusted wins
        ("10.1.2.3", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),
        ("10.1.2.3", ["6.6.6.6", "198.51.100.7, 10.9.9.9"], "198.51.100.7"),
        # every hop trusted: the leftmost
        ("10.1.2.3", ["10.0.0.5, 10.0.0.6"], "10.0.0.5"),
        # garbage in the chain: stop at the last hop we can trust
        ("10.1.2.3", ["198.51.100.7, garbage"], "10.1.2.3"),
        ("10.1.2.3", ["198.51.100.7, 10.0.0.4, nonsense"], "10.1.2.3"),
        # header absent behind a trusted proxy: the proxy itself
        ("10.1.2.3", [], "10.1.2.3"),
        # ports and IPv6 forms
        ("10.1.2.3", ["198.51.100.7:5555"], "198.51.100.7"),
        ("10.1.2.3", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("::ffff:10.1.2.3", ["198.51.100.7"], "198.51.100.7"),
        (None, ["1.2.3.4"], "unknown"),
    ],
)
def test_client_ip(peer: str | None, xff: list[str], expected: str) -> None:
    assert client_ip(peer, xff, TRUSTED) == expected


def test_no_trusted_proxies_means_the_header_is_ignored() -> None:
    assert client_ip("127.0.0.1", ["1.2.3.4"], ()) == "127.0.0.1"


def test_trusted_proxies_parse() -> None:
    assert parse_trusted_proxies(["172.16.0.0/12", "fd00::/8"]) == (
        ipaddress.ip_network("172.16.0.0/12"),
        ipaddress.ip_network("fd00::/8"),
    )
    with pytest.raises(ConfigError, match="METRICS_RPC_TRUSTED_PROXIES"):
        parse_trusted_proxies(["not-an-ip"])


# --- decisions (memory storage) ------------------------------------------------------


def test_budget_is_used_up_then_429_with_retry_after() -> None:
    async def scenario() -> list[RateLimitDecision]:
        rl = limiter("web_anon=3/minute")
        return [await rl.hit("web_anon", "ip:1.1.1.1") for _ in range(4)]

    decisions = run(scenario())
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    first, last = decisions[0], decisions[-1]
    assert first.headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": "60",
        "RateLimit-Policy": "3;w=60",
    }
    assert 58 <= last.retry_after <= 60
    headers = last.headers()
    assert headers["Retry-After"] == str(last.retry_after)
    assert headers["RateLimit-Remaining"] == "0"
    error = rejection(last)
    assert isinstance(error, RateLimited)
    assert error.status == 429
    assert error.headers["Retry-After"] == str(last.retry_after)
    assert error.headers["RateLimit-Limit"] == "3"


def test_retry_after_is_when_the_oldest_hit_leaves_the_window(
    time_machine: TimeMachineFixture,
) -> None:
    # One stopped clock drives both `limits`' storage and the limiter: time moves only
    # when the test says so.
    time_machine.move_to(START, tick=False)

    async def scenario() -> list[RateLimitDecision]:
        rl = limiter("web_anon=2/5second")
        await rl.hit("web_anon", "ip:a")
        time_machine.shift(2.1)
        await rl.hit("web_anon", "ip:a")
        rejected = await rl.hit("web_anon", "ip:a")
        time_machine.shift(2.8)  # 4.9 s after the first hit: still in the window
        still = await rl.hit("web_anon", "ip:a")
        time_machine.shift(0.2)  # 5.1 s: the first hit has left the window
        return [rejected, still, await rl.hit("web_anon", "ip:a")]

    rejected, still, later = run(scenario())
    assert not rejected.allowed
    assert rejected.retry_after == 3  # 5 - 2.1 = 2.9 seconds, rounded up
    assert not still.allowed
    assert still.retry_after == 1
    assert later.allowed
    assert later.remaining == 0  # the second hit is still in the window


def test_separate_budgets_per_client_and_per_role() -> None:
    async def scenario() -> dict[str, list[bool]]:
        rl = limiter("web_anon=2/minute;writer=3/minute")
        out: dict[str, list[bool]] = {}
        for name, (role, identity) in {
            "anon a": ("web_anon", "ip:a"),
            "anon b": ("web_anon", "ip:b"),
            "writer alice": ("writer", "sub:alice"),
            "writer bob": ("writer", "sub:bob"),
        }.items():
            out[name] = [(await rl.hit(role, identity)).allowed for _ in range(4)]
        return out

    result = run(scenario())
    assert result["anon a"] == [True, True, False, False]
    assert result["anon b"] == [True, True, False, False]
    assert result["writer alice"] == [True, True, True, False]
    assert result["writer bob"] == [True, True, True, False]


def test_hit_request_identity() -> None:
    async def scenario() -> list[bool]:
        rl = limiter("web_anon=1/minute;writer=1/minute")
        hits = [
            # anonymous: per IP, whatever the token's sub
            rl.hit_request(role="web_anon", anonymous=True, sub="x", client_address="1.1.1.1"),
            rl.hit_request(role="web_anon", anonymous=True, sub="y", client_address="1.1.1.1"),
            rl.hit_request(role="web_anon", anonymous=True, sub=None, client_address="2.2.2.2"),
            # writer: per sub, whatever the IP
            rl.hit_request(role="writer", anonymous=False, sub="a", client_address="1.1.1.1"),
            rl.hit_request(role="writer", anonymous=False, sub="a", client_address="3.3.3.3"),
            rl.hit_request(role="writer", anonymous=False, sub="b", client_address="1.1.1.1"),
            # no sub: the role's shared budget
            rl.hit_request(role="writer", anonymous=False, sub=None, client_address="4.4.4.4"),
            rl.hit_request(role="writer", anonymous=False, sub=None, client_address="5.5.5.5"),
        ]
        return [(await hit).allowed for hit in hits]

    assert run(scenario()) == [True, False, True, True, False, True, True, False]


def test_check_reads_the_client_address_only_for_anonymous_requests() -> None:
    settings = Settings(rate_limits="web_anon=1/minute;writer=1/minute")
    hook = RequestRateLimiter.from_settings(settings)
    assert hook is not None
    read: list[str] = []
    original = hook.client_address

    def counting(scope: Any) -> str:
        read.append("read")
        return original(scope)

    hook.client_address = counting  # type: ignore[method-assign]
    anonymous = AuthResult(role="web_anon", claims={}, sub=None, anonymous=True)
    writer = AuthResult(role="writer", claims={}, sub="ops", anonymous=False)

    async def scenario() -> None:
        await hook.check(writer, {"client": ("1.1.1.1", 1)})
        assert read == []
        await hook.check(anonymous, {"client": ("1.1.1.1", 1)})
        assert read == ["read"]
        with pytest.raises(RateLimited):
            await hook.check(writer, {"client": ("2.2.2.2", 1)})  # per sub, not per address
        with pytest.raises(RateLimited):
            await hook.check(anonymous, {"client": ("1.1.1.1", 1)})

    run(scenario())


def test_ingest_has_its_own_budget() -> None:
    async def scenario() -> tuple[list[bool], list[bool]]:
        rl = limiter("writer=1/minute;ingest=3/minute")
        kw: dict[str, Any] = {"role": "writer", "anonymous": False, "sub": "prom"}
        ingest = [
            (await rl.hit_request(**kw, client_address="x", ingest=True)).allowed for _ in range(4)
        ]
        rpc = [(await rl.hit_request(**kw, client_address="x")).allowed for _ in range(2)]
        return ingest, rpc

    assert run(scenario()) == ([True, True, True, False], [True, False])


def test_unlisted_roles_use_default_or_are_unlimited() -> None:
    async def scenario() -> tuple[list[bool], list[bool], RateLimitDecision]:
        with_default = limiter("web_anon=1/minute;default=2/minute")
        without = limiter("web_anon=1/minute;writer=off")
        a = [(await with_default.hit("admin", "sub:x")).allowed for _ in range(3)]
        b = [(await without.hit("admin", "sub:x")).allowed for _ in range(3)]
        return a, b, await without.hit("writer", "sub:x")

    a, b, writer = run(scenario())
    assert a == [True, True, False]
    assert b == [True, True, True]
    assert writer.allowed
    assert writer.headers() == {}


def test_several_windows_report_the_tightest() -> None:
    async def scenario() -> list[RateLimitDecision]:
        rl = limiter("web_anon=2/second,5/minute")
        return [await rl.hit("web_anon", "ip:a") for _ in range(3)]

    first, second, third = run(scenario())
    assert (first.limit, first.remaining) == (2, 1)
    assert (second.limit, second.remaining) == (2, 0)
    assert not third.allowed
    assert third.limit == 2


def test_decisions_are_reported() -> None:
    events: list[tuple[str, str]] = []

    async def scenario() -> None:
        rl = RateLimiter(
            RateLimitConfig(limits={"web_anon": items("1/minute")}),
            on_decision=lambda budget, outcome: events.append((budget, outcome)),
        )
        await rl.hit("web_anon", "ip:a")
        await rl.hit("web_anon", "ip:a")

    run(scenario())
    assert events == [("web_anon", "allowed"), ("web_anon", "rejected")]


# --- Redis -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_two_instances_share_one_budget_in_redis(redis_url: str) -> None:
    async def scenario() -> list[bool]:
        one = limiter("web_anon=5/minute", storage=redis_url)
        two = limiter("web_anon=5/minute", storage=redis_url)
        await one.reset()
        results = []
        for i in range(8):
            rl = one if i % 2 == 0 else two
            results.append((await rl.hit("web_anon", "ip:shared")).allowed)
        return results

    assert run(scenario()) == [True] * 5 + [False] * 3


def test_concurrent_hits_from_two_instances_are_exact(redis_url: str) -> None:
    async def scenario() -> int:
        one = limiter("web_anon=20/minute", storage=redis_url)
        two = limiter("web_anon=20/minute", storage=redis_url)
        await one.reset()
        hits = [(one if i % 2 else two).hit("web_anon", "ip:burst") for i in range(50)]
        return sum(d.allowed for d in await asyncio.gather(*hits))

    assert run(scenario()) == 20


class RefusingStorage:
    """A TCP port that accepts connections and closes them at once: a broken Redis that
    counts how often it is tried."""

    def __init__(self) -> None:
        self.connections = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RefusingStorage:
        async def refuse(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self._server = await asyncio.start_server(refuse, "127.0.0.1", 0)
        self.url = f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/0"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


def test_unreachable_redis_fails_open_with_one_log_line(
    caplog: pytest.LogCaptureFixture, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(START, tick=False)  # RETRY_STORAGE_AFTER never passes

    async def scenario() -> tuple[list[RateLimitDecision], list[int]]:
        events: list[str] = []
        async with RefusingStorage() as broken:
            rl = RateLimiter(
                RateLimitConfig(limits={"web_anon": items("1/minute")}, storage_uri=broken.url),
                on_decision=lambda _budget, outcome: events.append(outcome),
            )
            decisions = [await rl.hit("web_anon", "ip:a")]
            tried = [broken.connections]
            decisions += [await rl.hit("web_anon", "ip:a") for _ in range(19)]
            tried.append(broken.connections)
        assert events == ["storage_unavailable"] * 20
        return decisions, tried

    with caplog.at_level(logging.WARNING, logger="metrics_rpc.ratelimit"):
        decisions, (after_first, after_all) = run(scenario())
    assert all(d.allowed and d.storage_unavailable for d in decisions)
    assert decisions[0].headers() == {}
    lines = [r.getMessage() for r in caplog.records if r.name == "metrics_rpc.ratelimit"]
    assert len(lines) == 1
    assert "unavailable" in lines[0]
    assert "failing open" in lines[0]
    assert after_first >= 1, "the first request tries the storage"
    assert after_all == after_first, "the next ones skip it instead of waiting on it again"


def test_unreachable_redis_fails_closed_with_503(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"

    async def scenario() -> list[RateLimitDecision]:
        rl = limiter("web_anon=100/minute", storage=url, rate_limit_fail_open=False)
        return [await rl.hit("web_anon", "ip:a") for _ in range(5)]

    with caplog.at_level(logging.WARNING, logger="metrics_rpc.ratelimit"):
        decisions = run(scenario())
    assert not any(d.allowed for d in decisions)
    error = rejection(decisions[0])
    assert isinstance(error, RateLimitUnavailable)
    assert error.status == 503
    assert error.headers["Retry-After"] == "2"
    assert any("failing closed" in r.getMessage() for r in caplog.records)


def test_redis_recovers_after_an_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, time_machine: TimeMachineFixture
) -> None:
    """Redis goes away and comes back on the same port: limiting resumes by itself."""
    time_machine.move_to(START, tick=False)
    port = free_port()

    async def scenario() -> None:
        with redis_server(tmp_path, port) as url:
            rl = limiter("web_anon=5/minute", storage=url)
            await rl.reset()
            assert (await rl.hit("web_anon", "ip:a")).remaining == 4
        down = await rl.hit("web_anon", "ip:a")  # server stopped
        assert down.allowed and down.storage_unavailable
        time_machine.shift(ratelimit.RETRY_STORAGE_AFTER + 0.1)
        with redis_server(tmp_path, port):
            back = await rl.hit("web_anon", "ip:a")
        assert back.allowed and not back.storage_unavailable
        assert back.remaining == 4  # a fresh redis: the outage did not count

    with caplog.at_level(logging.WARNING, logger="metrics_rpc.ratelimit"):
        run(scenario())
    messages = [r.getMessage() for r in caplog.records if r.name == "metrics_rpc.ratelimit"]
    assert len(messages) == 2
    assert "unavailable" in messages[0]
    assert "is back" in messages[1]


def test_decisions_are_counted_for_metrics() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from api.ratelimit import decision_counter

    registry = CollectorRegistry()

    async def scenario() -> None:
        rl = RateLimiter(
            RateLimitConfig(limits={"web_anon": items("1/minute")}),
            on_decision=decision_counter(registry),
        )
        for _ in range(3):
            await rl.hit("web_anon", "ip:a")

    run(scenario())
    text = generate_latest(registry).decode()
    name = "metrics_rpc_rate_limit_decisions_total"
    assert f'{name}{{budget="web_anon",outcome="rejected"}} 2.0' in text
    assert f'{name}{{budget="web_anon",outcome="allowed"}} 1.0' in text


# --- over HTTP: the real app, a real PostgreSQL ----------------------------------------

HTTP_SECRET = "rate-limit-tests-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


def app_settings(db: DbInfo, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"jwt_secret": HTTP_SECRET,
                              "rate_limits": "web_anon=3/minute;writer=5/minute"}
    return hardening.settings(db, **{**values, **overrides})


def writer(sub: str) -> dict[str, str]:
    claims = {"role": "writer", "sub": sub, "exp": time.time() + 600}
    return {"Authorization": "Bearer " + jwt.encode(claims, HTTP_SECRET, algorithm="HS256")}


def test_http_limit_reached_is_429_with_headers(hardening_db: DbInfo) -> None:
    with running_app(app_settings(hardening_db)) as url, httpx.Client(base_url=url) as client:
        ok = [client.get("/rpc/hardening_rows") for _ in range(3)]
        for i, response in enumerate(ok):
            assert response.status_code == 200, response.text
            assert response.headers["ratelimit-limit"] == "3"
            assert response.headers["ratelimit-remaining"] == str(2 - i)
            assert 0 < int(response.headers["ratelimit-reset"]) <= 60
            assert "retry-after" not in response.headers
        limited = client.get("/rpc/hardening_rows")
        assert limited.status_code == 429
        assert set(limited.json()) == {"code", "details", "hint", "message"}
        assert limited.json()["code"] == "MRPC429"
        assert limited.headers["content-type"] == "application/json; charset=utf-8"
        assert 55 <= int(limited.headers["retry-after"]) <= 60
        assert limited.headers["ratelimit-remaining"] == "0"
        assert limited.headers["ratelimit-limit"] == "3"
        # admin endpoints are never limited
        for _ in range(5):
            for path in ("/live", "/ready", "/metrics"):
                assert client.get(path).status_code == 200
        # separate budgets: the writer role, per sub
        for sub in ("alice", "bob"):
            statuses = [client.get("/rpc/hardening_rows", headers=writer(sub)).status_code
                        for _ in range(6)]  # fmt: skip
            assert statuses == [200] * 5 + [429]
        metrics = client.get("/metrics").text
        assert (
            'metrics_rpc_rate_limit_decisions_total{budget="web_anon",outcome="rejected"} 1.0'
            in metrics
        )
        assert (
            'metrics_rpc_rate_limit_decisions_total{budget="writer",outcome="rejected"} 2.0'
            in metrics
        )


def test_http_forwarded_for_from_untrusted_peer_is_ignored(hardening_db: DbInfo) -> None:
    with running_app(app_settings(hardening_db)) as url:
        statuses = [
            httpx.get(
                f"{url}/rpc/hardening_rows", headers={"X-Forwarded-For": f"10.0.0.{i}"}
            ).status_code
            for i in range(4)
        ]
    assert statuses == [200, 200, 200, 429]


def test_http_forwarded_for_from_trusted_proxy_is_honoured(hardening_db: DbInfo) -> None:
    settings = app_settings(hardening_db, trusted_proxies=("127.0.0.1",))
    with running_app(settings) as url:

        def get(client_address: str) -> int:
            headers = {"X-Forwarded-For": f"6.6.6.6, {client_address}"}
            return httpx.get(f"{url}/rpc/hardening_rows", headers=headers).status_code

        first = [get("198.51.100.1") for _ in range(4)]
        second = [get("198.51.100.2") for _ in range(3)]
    assert first == [200, 200, 200, 429]
    assert second == [200, 200, 200], "another client behind the proxy has its own budget"


def test_http_two_instances_share_one_budget_in_redis(hardening_db: DbInfo, redis_url: str) -> None:
    async def clear() -> None:
        await limiter("web_anon=1/minute", storage=redis_url).reset()

    run(clear())
    settings = app_settings(
        hardening_db, rate_limits="web_anon=4/minute", rate_limit_storage=redis_url
    )
    with running_app(settings) as one, running_app(settings) as two:
        statuses = [httpx.get(f"{url}/rpc/hardening_rows").status_code
                    for url in (one, two, one, two, one, two)]  # fmt: skip
    assert statuses == [200, 200, 200, 200, 429, 429]


class Captured(logging.Handler):
    """Collects records of one logger (the app's logging set-up replaces root handlers)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.logger = logging.getLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> Captured:
        self.logger.addHandler(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.logger.removeHandler(self)


@pytest.mark.parametrize(("fail_open", "expected"), [(True, 200), (False, 503)])
def test_http_redis_unreachable(hardening_db: DbInfo, fail_open: bool, expected: int) -> None:
    settings = app_settings(
        hardening_db,
        rate_limit_storage=f"redis://127.0.0.1:{free_port()}/0",
        rate_limit_fail_open=fail_open,
    )
    with (
        Captured("metrics_rpc.ratelimit") as captured,
        running_app(settings) as url,
        httpx.Client(base_url=url) as client,
    ):
        responses = [client.get("/rpc/hardening_rows") for _ in range(10)]
        assert client.get("/live").status_code == 200
    assert {r.status_code for r in responses} == {expected}, "never a 500"
    if not fail_open:
        assert responses[0].json()["code"] == "MRPC503"
        assert responses[0].headers["retry-after"] == "2"
    assert len(captured.messages) == 1
    assert ("failing open" if fail_open else "failing closed") in captured.messages[0]


def test_client_address_is_remembered_per_peer_and_per_forwarded_chain() -> None:
    settings = Settings(rate_limits="web_anon=1/minute", trusted_proxies=["10.0.0.0/8"])
    hook = RequestRateLimiter.from_settings(settings)
    assert hook is not None

    def address(peer: str | None, *forwarded: str) -> str:
        scope: dict[str, Any] = {
            "client": (peer, 1) if peer is not None else None,
            "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}
        return hook.client_address(scope)

    for _ in range(2):  # the second round answers from what was remembered
        assert address("10.0.0.1", "1.2.3.4") == "1.2.3.4"
        assert address("10.0.0.1", "5.6.7.8") == "5.6.7.8"  # same proxy, another client
        assert address("10.0.0.1", "5.6.7.8, 10.0.0.2") == "5.6.7.8"
        assert address("9.9.9.9", "1.2.3.4") == "9.9.9.9"  # not a proxy: header ignored
        assert address("::ffff:1.2.3.4") == "1.2.3.4"
        assert address("not-an-address") == "not-an-address"
        assert address(None) == "unknown"


def test_header_items_are_the_headers_in_lower_case() -> None:
    allowed = RateLimitDecision(allowed=True, limit=60, remaining=59, reset_after=60, window=60)
    rejected = RateLimitDecision(allowed=False, limit=60, remaining=0, reset_after=0, window=60)
    for decision in (allowed, rejected):
        assert decision.header_items() == [
            (name.lower(), value) for name, value in decision.headers().items()]
    assert dict(rejected.header_items())["retry-after"] == "1"
    assert dict(allowed.header_items())["ratelimit-policy"] == "60;w=60"
