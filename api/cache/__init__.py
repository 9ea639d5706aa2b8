"""Response caching: HTTP validators and policies (``policy``), the server-side cache
(``response_cache``) with its storage (``storage``) and the data versions it keys on
(``versions``). See docs/CACHING.md."""

from api.cache.policy import (
    CachePolicy,
    caching_headers,
    etag_matches,
    not_modified_headers,
    policy_of,
)
from api.cache.response_cache import ResponseCache, cache_key
from api.cache.storage import CachedResponse, MemoryStorage, RedisStorage
from api.cache.versions import DataVersions

__all__ = [
    "CachePolicy",
    "CachedResponse",
    "DataVersions",
    "MemoryStorage",
    "RedisStorage",
    "ResponseCache",
    "cache_key",
    "caching_headers",
    "etag_matches",
    "not_modified_headers",
    "policy_of",
]
