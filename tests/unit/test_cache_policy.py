"""api.cache.policy and the memory storage: pure, no database."""

from __future__ import annotations

import asyncio

from api.cache.policy import (
    CachePolicy,
    caching_headers,
    etag_matches,
    not_modified_headers,
    strong_etag,
)
from api.cache.storage import CachedResponse, MemoryStorage


def test_server_ttl_prefers_s_maxage_and_never_stores_no_store():
    assert CachePolicy.parse("public, max-age=60").server_ttl == 60
    assert CachePolicy.parse("public, max-age=60, s-maxage=5").server_ttl == 5
    assert CachePolicy.parse("no-store, max-age=60").server_ttl == 0
    assert CachePolicy.parse("no-cache").server_ttl == 0
    assert CachePolicy.parse("public").server_ttl == 0
    assert CachePolicy.parse("max-age=junk").server_ttl == 0


def test_an_authenticated_response_is_private_without_shared_directives():
    policy = CachePolicy.parse("public, max-age=60, s-maxage=30, stale-while-revalidate=300")
    assert policy.header(authenticated=False) == policy.text
    assert policy.header(authenticated=True) == "private, max-age=60, stale-while-revalidate=300"


def test_the_etag_depends_on_media_type_and_bytes():
    assert strong_etag("application/json", b"[1]") == strong_etag("application/json", b"[1]")
    assert strong_etag("application/json", b"[1]") != strong_etag("application/json", b"[2]")
    assert strong_etag("application/json", b"[1]") != strong_etag("text/csv", b"[1]")


def test_caching_headers_leave_what_the_function_set():
    own = [("content-type", "application/json"), ("cache-control", "no-store")]
    headers = dict(caching_headers(own, b"[]", CachePolicy.parse("public, max-age=1"),
                                   authenticated=False))
    assert headers["cache-control"] == "no-store"
    assert headers["etag"].startswith('"') and headers["vary"]
    plain = dict(caching_headers([("content-type", "application/json")], b"[]", None,
                                 authenticated=False))
    assert set(plain) == {"content-type", "etag"}
    streamed = dict(caching_headers([], None, CachePolicy.parse("max-age=1"),
                                    authenticated=False))
    assert "etag" not in streamed and streamed["cache-control"] == "max-age=1"


def test_if_none_match_compares_weakly_and_takes_lists_and_star():
    assert etag_matches('"a"', '"a"')
    assert etag_matches('W/"a"', '"a"')
    assert etag_matches('"x", "a"', '"a"')
    assert etag_matches("*", '"a"')
    assert not etag_matches('"b"', '"a"')
    assert not etag_matches(None, '"a"')


def test_a_304_keeps_only_the_validator_and_caching_headers():
    headers = [("content-type", "x"), ("content-length", "3"), ("etag", '"a"'),
               ("cache-control", "max-age=1"), ("vary", "Accept")]
    assert not_modified_headers(headers) == [("etag", '"a"'), ("cache-control", "max-age=1"),
                                             ("vary", "Accept")]


def entry(body: bytes, stored_at: float = 0.0, ttl: float = 60.0) -> CachedResponse:
    return CachedResponse(200, (), body, stored_at, ttl)


def test_memory_storage_evicts_the_least_recently_used_beyond_its_bytes():
    evicted: list[int] = []
    now = [0.0]
    storage = MemoryStorage(4 * 1000, clock=lambda: now[0], on_evict=evicted.append)

    async def scenario() -> None:
        for key in "abcd":
            await storage.put(key, entry(b"x" * 800))
        assert await storage.get("a") is not None  # a is now the most recent
        await storage.put("e", entry(b"x" * 800))
        assert await storage.get("b") is None
        assert await storage.get("a") is not None
        now[0] = 61.0
        assert await storage.get("a") is None  # past its TTL

    asyncio.run(scenario())
    assert sum(evicted) >= 1
    size, entries = storage.stats()
    assert entries <= 4 and size <= 4000


def test_memory_storage_skips_entries_larger_than_a_quarter_of_it():
    storage = MemoryStorage(1000)
    asyncio.run(storage.put("big", entry(b"x" * 400)))
    assert storage.stats() == (0, 0)
