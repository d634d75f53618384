"""String keys and values in Redis, under the app's prefix (``<prefix>kv:<key>``).

The client can only reach keys below that prefix, so it can neither read nor
clobber the cache or anything else in the same Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from extensions import redis_store
from services.errors import InvalidInput, NotFound, PayloadTooLarge

KEY_MAX_LENGTH = 200
VALUE_MAX_BYTES = 64 * 1024
TTL_MAX = 365 * 24 * 3600


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    ttl: int | None  # seconds left; None when the key never expires


KEY_RULE = f"1-{KEY_MAX_LENGTH} printable characters, no '.' or '..' between slashes"


def _redis_key(key: str) -> str:
    # "." and ".." segments are collapsed by clients: such a key could never be addressed.
    if not 1 <= len(key) <= KEY_MAX_LENGTH or not key.isprintable() or {".", ".."} & set(key.split("/")):
        message = f"Must be {KEY_RULE}."
        raise InvalidInput(f"Invalid key: {message}", {"key": [message]})
    return redis_store.state.key("kv", key)


def get(*, key: str) -> Entry:
    """The value and remaining ttl of ``key``. Raises InvalidInput, NotFound, Unavailable."""
    name = _redis_key(key)
    with redis_store.session() as client:
        pipe = client.pipeline(transaction=True)
        pipe.get(name)
        pipe.ttl(name)
        value, ttl = pipe.execute()
    if value is None:
        raise NotFound(f"No key {key!r}.")
    return Entry(key, value.decode("utf-8"), ttl if ttl >= 0 else None)


def put(*, key: str, value: str, ttl: int | None = None) -> tuple[Entry, bool]:
    """Create or replace ``key`` (no ttl: never expires); returns (entry, created).
    Raises InvalidInput, PayloadTooLarge, Unavailable."""
    name = _redis_key(key)
    data = value.encode("utf-8")
    if len(data) > VALUE_MAX_BYTES:
        raise PayloadTooLarge(f"The value is {len(data)} bytes of UTF-8; the limit is {VALUE_MAX_BYTES}.")
    with redis_store.session() as client:
        pipe = client.pipeline(transaction=True)
        pipe.exists(name)
        pipe.set(name, data, ex=ttl)
        existed, _ = pipe.execute()
    return Entry(key, value, ttl), not existed


def delete(*, key: str) -> None:
    """Delete ``key``. Raises InvalidInput, NotFound, Unavailable."""
    name = _redis_key(key)
    with redis_store.session() as client:
        deleted = client.delete(name)
    if not deleted:
        raise NotFound(f"No key {key!r}.")


def ping() -> float:
    """Round-trip time of a PING in milliseconds. Raises Unavailable."""
    with redis_store.session() as client:
        started = time.perf_counter()
        client.ping()
        return (time.perf_counter() - started) * 1000
