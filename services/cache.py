"""Read-through cache of rendered records in Redis, closed against stale fills.

Keys under the app's prefix: ``cache:<kind>:v<FORMAT>:<id>`` holds the rendered bytes,
``cache:<kind>:gen:<id>`` a generation counter. Every write bumps the generation and
deletes the entry *after* its commit. A reader notes the generation (in the same
round trip as its cache lookup) before it reads the database, and fills the cache
only if the generation is unchanged, checked and set atomically by a Lua script.
So a reader holding a row from before a finished write can never put it back:
either the write's bump came first and the fill is refused, or the fill came first
and the write's delete removes it. This holds across threads, gunicorn workers and
app instances, since the check happens inside the one Redis they share.

Entries that any write of their kind may change (list pages) share one generation per
kind, ``cache:<kind>:gen``, instead: each entry is stamped with the generation it was read
under, and a write's bump makes every older entry stale at once, without deleting it.

Redis failures never reach the caller: reads fall back to ``load`` and a failed
invalidation is remembered and retried before this process next uses the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from redis.commands.core import Script
from redis.exceptions import RedisError

from extensions import redis_store
from redis_ext import RedisState

# Bump when the rendered representation changes: entries of the old format are ignored.
FORMAT = 2  # 2: records carry their version
# Generations outlive any reader (bounded by the DB read and worker timeouts) by far.
GENERATION_TTL = 24 * 3600
PENDING_MAX = 10_000

# Built once, run by EVALSHA: redis-py reloads a script Redis has lost (a restart).
# KEYS: entry, generation. ARGV: generation seen ("" for none), body, ttl.
_FILL = Script(
    None,
    b"""
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
""",
)

# Shared generation: KEYS: entry, generation. ARGV: generation seen, body, ttl.
_FILL_STAMPED = Script(
    None,
    b"""
local seen = redis.call('GET', KEYS[2]) or ''
if seen == ARGV[1] then
  redis.call('SET', KEYS[1], seen .. '|' .. ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
""",
)


def _keys(state: RedisState, kind: str, ident: str | None) -> tuple[str | None, str]:
    if ident is None:  # the generation shared by a kind's entries; nothing to delete
        return None, state.key("cache", kind, "gen")
    return state.key("cache", kind, f"v{FORMAT}", ident), state.key("cache", kind, "gen", ident)


def _bump(state: RedisState, items: Iterable[tuple[str, str | None]]) -> None:
    pipe = state.client.pipeline(transaction=True)
    for kind, ident in items:
        entry, generation = _keys(state, kind, ident)
        pipe.incr(generation)
        pipe.expire(generation, GENERATION_TTL)
        if entry is not None:
            pipe.delete(entry)
    pipe.execute()


def _flush_pending(state: RedisState) -> None:
    if not state.pending:  # the usual case: no lock taken on the read path
        return
    with state.pending_lock:
        items = list(state.pending)
    if items:
        _bump(state, items)
        with state.pending_lock:
            for item in items:
                state.pending.pop(item, None)


def read_through(
    kind: str, ident: str, load: Callable[[], bytes], *, shared: bool = False
) -> tuple[bytes, bool]:
    """``load()``'s bytes, from the cache when present; returns (body, hit).
    ``shared``: an entry that any write of ``kind`` may change (a list page), guarded by
    the kind's generation; ``invalidate((kind, None))`` makes all of them stale.
    Raises what ``load`` raises; Redis failures fall back to ``load``."""
    state = redis_store.state
    if not state.cache_usable():
        return load(), False
    entry, generation = _keys(state, kind, ident)
    if shared:
        generation = _keys(state, kind, None)[1]
    try:
        _flush_pending(state)
        cached, seen = state.client.mget(entry, generation)
    except RedisError as exc:
        state.failed(exc)
        return load(), False
    state.succeeded()
    seen = seen or b""
    if cached is not None:
        if not shared:
            return cached, True
        stamp, _, body = cached.partition(b"|")
        if stamp == seen:
            return body, True
    body = load()
    try:
        fill = _FILL_STAMPED if shared else _FILL
        fill(keys=(entry, generation), args=(seen, body, state.cache_ttl), client=state.client)
    except RedisError as exc:
        state.failed(exc)
    return body, False


def invalidate(*items: tuple[str, str | None]) -> None:
    """Make cached entries stale after a committed write: each item is (kind, id), or
    (kind, None) for a kind's shared entries. Never raises: on a Redis failure the
    items are kept and retried before this process next reads the cache."""
    state = redis_store.state
    if not state.enabled:
        return
    with state.pending_lock:
        for item in items:
            state.pending[item] = None
        if len(state.pending) > PENDING_MAX:
            state.pending.pop(next(iter(state.pending)))
            state.warn("More than %d cache invalidations pending; the oldest was dropped", PENDING_MAX)
    try:
        _flush_pending(state)
    except RedisError as exc:
        state.failed(exc)
    else:
        state.succeeded()
