"""Read-through cache of rendered records in Redis, closed against stale fills.

Keys under the app's prefix: ``cache:<kind>:entry:<id>`` holds the rendered bytes, stamped
with the version of the format that rendered them (``Format``, derived from the schema),
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

Behind Sentinel, a failover can lose the last writes (replication is asynchronous): an
invalidation acknowledged by the old master may never reach the promoted replica, which
still holds the entry it was meant to remove. So every key then carries the master's
*epoch*, its ``run_id`` and ``master_replid`` (``INFO``): a promoted replica gets a new
replication id, a restarted master a new run id, so either starts an empty cache. Each
process keeps the epoch it last saw and every script checks it inside Redis, in the same
round trip as its work (no extra round trip; two short ``INFO`` sections, about 15 us
of Redis CPU per call); on a mismatch the script answers the current epoch and the call
is redone once under it. Entries of an old epoch are never read again and expire.

Redis failures never reach the caller: reads fall back to ``load`` and a failed
invalidation is remembered and retried before this process next uses the cache. For
``REDIS_RETRY_INTERVAL`` after a failure, reads skip Redis; so do writes (they only queue
their invalidations) when the failure was slow (a timeout, a wait for a pooled connection),
so an outage costs one timeout per interval, not one per request. After a prompt failure
(refused, no master yet) each write tries again, twice: the others may reach Redis already.
The queue is replayed before this process reads the cache again, so it never serves an
entry older than a write it acknowledged.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from flask import current_app
from redis.commands.core import Script

from core.context import app_object
from core.errors import Unavailable
from extensions import metrics, redis_store
from extensions.redis_store import RedisUnavailable, one_command, run_script

EXTENSION = "wdapi.cache"
# Generations outlive any reader (bounded by the DB read and worker timeouts) by far.
GENERATION_TTL = 24 * 3600
PENDING_MAX = 10_000

# The server's epoch: changes with a promotion or a restart.
# ARGV[1] is the epoch the caller expects; '' skips the check (no Sentinel).
_EPOCH = b"""
local function epoch()
  local replication = redis.call('INFO', 'replication')
  if not string.find(replication, 'role:master', 1, true) then return nil end
  local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
  local replid = string.match(replication, 'master_replid:(%x+)') or ''
  return string.sub(run_id, 1, 12) .. string.sub(replid, 1, 12)
end
-- false: the caller's epoch holds; a string: the current epoch; nil: not the master.
local function stale()
  if ARGV[1] == '' then return false end
  local current = epoch()
  if current == ARGV[1] then return false end
  return current
end
-- A demoted master, still connected: redis-py drops a connection that answers READONLY.
local NOT_MASTER = 'READONLY this server is no longer the master'
"""

# Built once, run by EVALSHA (redis_store.run_script): a Redis that lost one (a restart) gets
# it again.
# KEYS: entry, generation. ARGV: epoch. {1, entry, generation}, or {0, current epoch}.
# Every script answers READONLY from a server that is not the master.
_READ = Script(
    None,  # type: ignore[arg-type]  # no client: each call passes one
    _EPOCH
    + b"""
local current = stale()
if current == nil then return redis.error_reply(NOT_MASTER) end
if current then return {0, current} end
return {1, redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}
""",
)

# KEYS: entry, generation. ARGV: epoch, generation seen ("" for none), body, ttl.
_FILL = Script(
    None,  # type: ignore[arg-type]
    _EPOCH
    + b"""
local current = stale()
if current == nil then return redis.error_reply(NOT_MASTER) end
if not current and (redis.call('GET', KEYS[2]) or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
  return 1
end
return 0
""",
)

# Shared generation: KEYS: entry, generation. ARGV: epoch, generation seen, body, ttl.
_FILL_STAMPED = Script(
    None,  # type: ignore[arg-type]
    _EPOCH
    + b"""
local current = stale()
if current == nil then return redis.error_reply(NOT_MASTER) end
local seen = redis.call('GET', KEYS[2]) or ''
if not current and seen == ARGV[2] then
  redis.call('SET', KEYS[1], seen .. '|' .. ARGV[3], 'EX', ARGV[4])
  return 1
end
return 0
""",
)

# KEYS: generations, then entries. ARGV: epoch, how many generations, their ttl.
# {1}, or {0, current epoch}.
_BUMP = Script(
    None,  # type: ignore[arg-type]
    _EPOCH
    + b"""
local current = stale()
if current == nil then return redis.error_reply(NOT_MASTER) end
if current then return {0, current} end
local generations = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  if i <= generations then
    redis.call('INCR', key)
    redis.call('EXPIRE', key, ARGV[3])
  else
    redis.call('DEL', key)
  end
end
return {1}
""",
)


class Format(Protocol):
    """What fills the cache: ``version`` names its format; entries of another are ignored."""

    version: str


class CacheState:
    """One app's cache settings and this process's back-off and pending invalidations."""

    def __init__(self, config: Mapping):
        self.ttl: int = config["CACHE_TTL"]
        self.retry_interval: float = config["REDIS_RETRY_INTERVAL"]
        self.skip_until = 0.0
        self.writes_skip_until = 0.0
        # Ids whose invalidation failed; retried before this process next reads the cache.
        self.pending: dict[tuple[str, str | None], None] = {}
        self.pending_lock = threading.Lock()
        # Behind Sentinel: the master's epoch as last seen ("?" matches none, so the first
        # call learns it). Without Sentinel, "" and unchecked: one server, keys as they were.
        self.epoch = "?" if redis_store.state.sentinels else ""

    def usable(self) -> bool:
        """False while the cache is off (no Redis, CACHE_TTL=0) or backing off after a failure."""
        return redis_store.state.enabled and self.ttl > 0 and time.monotonic() >= self.skip_until

    def failed(self, err: Unavailable) -> bool:
        """Back off after ``err``; True when it was slow (writes back off too)."""
        self.skip_until = time.monotonic() + self.retry_interval
        # Writes skip Redis only after a slow failure, so that an outage costs them no timeout
        # each. After a prompt one (refused, reset, no master yet) every write tries again:
        # Redis may already be back for other processes (a promoted replica), which would
        # serve the entries an invalidation this process only queued was meant to remove.
        slow = getattr(err, "slow", True)
        if slow:
            self.writes_skip_until = self.skip_until
        return slow

    def writes_backing_off(self) -> bool:
        return time.monotonic() < self.writes_skip_until


def _state() -> CacheState:
    extensions = app_object().extensions
    state = extensions.get(EXTENSION)
    if state is None:  # built on first use; setdefault keeps one if two threads race here
        state = extensions.setdefault(EXTENSION, CacheState(current_app.config))
    return state


def _keys(kind: str, ident: str | None, epoch: str = "") -> tuple[str | None, str]:
    key = redis_store.state.key
    base = ("cache", epoch, kind) if epoch else ("cache", kind)
    if ident is None:  # the generation shared by a kind's entries; nothing to delete
        return None, key(*base, "gen")
    return key(*base, "entry", ident), key(*base, "gen", ident)


def _bump(state: CacheState, items: Iterable[tuple[str, str | None]]) -> None:
    items = list(items)
    for _ in range(2):  # a second time under the epoch the first answered
        epoch = state.epoch
        generations, entries = [], []
        for kind, ident in items:
            entry, generation = _keys(kind, ident, epoch)
            generations.append(generation)
            if entry is not None:
                entries.append(entry)
        with redis_store.session() as client:
            done: list[Any] = run_script(
                _BUMP, client, (*generations, *entries), (epoch, len(generations), GENERATION_TTL)
            )
        if done[0] == 1:
            return
        state.epoch = done[1].decode()  # a new master (or a restart): redo under its epoch
    raise RedisUnavailable("The Redis master changed twice in one call.", slow=False)


def _flush_pending(state: CacheState) -> None:
    if not state.pending:  # the usual case: no lock taken on the read path
        return
    with state.pending_lock:
        items = list(state.pending)
    if items:
        _bump(state, items)
        with state.pending_lock:
            for item in items:
                state.pending.pop(item, None)


def _unwrap(data: bytes, version: bytes) -> bytes | None:
    """The body of a ``<version>|<body>`` entry, or None when it is of another format."""
    stamp, _, body = data.partition(b"|")
    return body if stamp == version else None


def read_through(
    kind: str, ident: str, load: Callable[[], bytes], *, fmt: Format, shared: bool = False
) -> tuple[bytes, bool]:
    """``load()``'s bytes, from the cache when present; returns (body, hit).
    ``fmt``: the format ``load`` renders (an entry of another format is a miss).
    ``shared``: an entry that any write of ``kind`` may change (a list page), guarded by
    the kind's generation; ``invalidate((kind, None))`` makes all of them stale.
    Raises what ``load`` raises; Redis failures fall back to ``load``."""
    state = _state()
    if not state.usable():
        return load(), False
    version = fmt.version.encode()
    try:
        _flush_pending(state)
        epoch, entry, generation, cached, seen = _lookup(state, kind, ident, shared)
    except Unavailable as err:
        state.failed(err)
        return load(), False
    seen = seen or b""
    if cached is not None:
        if shared:  # stamped with the generation it was read under
            cached = _unwrap(cached, seen)
        body = _unwrap(cached, version) if cached is not None else None
        if body is not None:
            _lookups("hit").inc()
            return body, True
    _lookups("miss").inc()
    body = load()
    try:
        fill = _FILL_STAMPED if shared else _FILL
        with redis_store.session() as client:
            args = (epoch, seen, version + b"|" + body, state.ttl)
            run_script(fill, client, (entry, generation), args)
    except Unavailable as err:
        state.failed(err)
    return body, False


@functools.cache
def _lookups(result: str) -> Any:
    """The lookup counter's child for ``result``: ``labels()`` validates and locks per call."""
    return metrics.CACHE.labels(result)


def _lookup(state: CacheState, kind: str, ident: str, shared: bool) -> tuple[str, str, str, Any, Any]:
    """(epoch, entry key, generation key, entry, generation) in one round trip: an MGET
    without Sentinel, else the epoch-checked script (twice when the epoch had changed)."""
    for _ in range(2):
        epoch = state.epoch
        entry, generation = _keys(kind, ident, epoch)
        assert entry is not None  # an ident always has an entry
        if shared:
            generation = _keys(kind, None, epoch)[1]
        with redis_store.session() as client:
            if not epoch:
                cached, seen = one_command(client, "MGET", entry, generation)
                return epoch, entry, generation, cached, seen
            found: list[Any] = run_script(_READ, client, (entry, generation), (epoch,))
        if found[0] == 1:
            return epoch, entry, generation, found[1], found[2]
        state.epoch = found[1].decode()
    raise RedisUnavailable("The Redis master changed twice in one call.", slow=False)


def invalidate(*items: tuple[str, str | None]) -> None:
    """Make cached entries stale after a committed write: each item is (kind, id), or
    (kind, None) for a kind's shared entries. Never raises: on a Redis failure the
    items are kept and retried before this process next reads the cache."""
    if not redis_store.state.enabled:
        return
    state = _state()
    with state.pending_lock:
        for item in items:
            state.pending[item] = None
        if len(state.pending) > PENDING_MAX:
            state.pending.pop(next(iter(state.pending)))
            redis_store.state.warn(
                "More than %d cache invalidations pending; the oldest was dropped", PENDING_MAX
            )
    if state.writes_backing_off():  # Redis was slow just now: replayed by the next read or write after
        return
    # After a prompt failure, once more at once: the connection that failed is closed (a
    # demoted master's, one the server reset), and a new one may reach the master now.
    for _ in range(2):
        try:
            _flush_pending(state)
            return
        except Unavailable as err:
            if state.failed(err):
                return
