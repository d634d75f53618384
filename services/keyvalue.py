"""String keys and values in Redis, under the app's prefix (``<prefix>kv:<key>``).

The client can only reach keys below that prefix, so it can neither read nor
clobber the cache or anything else in the same Redis. With ``REDIS_WAIT_REPLICAS`` a write
is acknowledged only once that many replicas have it (else 503: it is on the master and
a failover may lose it; a PUT may be retried as is).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from core.errors import InvalidInput, NotFound, PayloadTooLarge, Unavailable
from extensions import redis_store

KEY_MAX_LENGTH = 200
NOT_REPLICATED = "The write reached the Redis master but no replica in time; a failover may lose it."
VALUE_MAX_BYTES = 64 * 1024
TTL_MAX = 365 * 24 * 3600
KEY_RULE = (
    f"1-{KEY_MAX_LENGTH} characters without control or invisible format characters; "
    "'/' separates segments, which are neither empty nor '.' or '..'"
)
# One pattern, so the documents state exactly what is enforced (JSON Schema has no \p{..}:
# the control characters and the format characters of the Basic Multilingual Plane, and
# the line and paragraph separators, are listed). Clients collapse "." and ".." segments
# and Werkzeug merges "//": such keys could never be addressed.
_INVISIBLE = (
    r"\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    r"\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
)
_SEGMENT = rf"(?!\.\.?(?:/|$))[^/{_INVISIBLE}]+"
KEY_PATTERN = rf"^{_SEGMENT}(?:/{_SEGMENT})*$"
_KEY = re.compile(KEY_PATTERN)


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    ttl: int | None  # seconds left; None when the key never expires


def _redis_key(key: str) -> str:
    if not 1 <= len(key) <= KEY_MAX_LENGTH or not _KEY.fullmatch(key):
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
    with redis_store.session(replicated=True) as client:
        # SET ... GET answers the old value: existence and write in one atomic command.
        old = client.set(name, data, ex=ttl, get=True)
        replicated = redis_store.state.replicas_acked(client)
    if not replicated:
        raise Unavailable(NOT_REPLICATED)
    return Entry(key, value, ttl), old is None


def delete(*, key: str) -> None:
    """Delete ``key``. Raises InvalidInput, NotFound, Unavailable."""
    name = _redis_key(key)
    with redis_store.session(replicated=True) as client:
        deleted = client.delete(name)
        replicated = not deleted or redis_store.state.replicas_acked(client)
    if not replicated:
        raise Unavailable(NOT_REPLICATED)
    if not deleted:
        raise NotFound(f"No key {key!r}.")


def ping() -> float:
    """Round-trip time of a PING in milliseconds. Raises Unavailable."""
    with redis_store.session() as client:
        started = time.perf_counter()
        client.ping()
        return (time.perf_counter() - started) * 1000
