"""A `limits` storage that decides in process and syncs with Redis in the background.

Scheme ``synced+<redis uri>`` (``synced+redis://``, ``synced+rediss://``,
``synced+redis+sentinel://host:port,host:port/name``): the part after ``synced+`` builds
`limits`' own Redis storage, whose client this one borrows, so Sentinel works as it does
there. A ``client_factory`` option (a callable returning a redis-py client, called once per
process) replaces the URI's client, e.g. ``lambda: Sentinel(...).master_for(name)``.

The model is Kong's ``sync_rate`` and Envoy's local token bucket: ``incr`` adds to a counter
in this process and answers (last count read from Redis + hits not yet in it) without any I/O.
A daemon thread, started on the first hit in each process (so after gunicorn's fork, never in
the master), flushes the new hits every ``sync_interval`` seconds, one pipelined script per
key (INCRBY, set the window's expiry once, read the TTL), and keeps the counts Redis answers.

Tolerance, with P processes (instances x workers) and h the most hits one process takes in
one sync period (``sync_interval`` plus the sync's own time, longer when a sync stalls): a
caller gets at most about (P - 1) x h over the limit in a window, and a process refuses
within one sync period of Redis's count reaching the limit, or of its next hit by a caller it
had stopped syncing (only keys hit since the last sync are synced; docs/operations.md "Limits").
When a sync fails, each process goes on counting its own hits on top of the last count it
read (one warning), and retries every interval; the hits of windows still open are flushed
when Redis answers again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import redis
from limits.storage import Storage, storage_from_string

from extensions.redis_store import RateLimitedWarning

log = logging.getLogger(__name__)

SCHEME = "synced+"
# INCRBY (0 on a refresh), the window's expiry set once, and the TTL left, in one round trip.
SYNC_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
end
return {count, ttl}
"""


@dataclass(eq=False)
class Counter:
    """One window of one key in this process; replaced (not reset) when the window ends, so
    a sync in flight for the old window cannot write into the new one."""

    expiry: int  # window length, seconds
    expires_at: float  # monotonic; provisional until the first sync reads Redis's TTL
    synced: int = 0  # Redis's count at the last sync, this process's flushed hits included
    flushing: int = 0  # hits sent by the sync in flight
    pending: int = 0  # hits not sent yet

    @property
    def count(self) -> int:
        return self.synced + self.flushing + self.pending


class SyncedRedisStorage(Storage):
    STORAGE_SCHEME = [SCHEME + s for s in ("redis", "rediss", "redis+unix", "redis+sentinel")]

    def __init__(
        self,
        uri: str,
        *,
        sync_interval: float = 0.2,
        client_factory: Callable[[], redis.Redis] | None = None,
        warn_interval: float = 60.0,
        key_prefix: str = "LIMITS",
        wrap_exceptions: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.sync_interval = sync_interval
        self.key_prefix = key_prefix
        self._warn = RateLimitedWarning(log, warn_interval)  # one warning per outage, at most
        if client_factory is None:
            # No connection yet: redis-py connects on the first command (in the sync thread).
            inner = storage_from_string(uri.removeprefix(SCHEME), key_prefix=key_prefix, **options)
            client_factory = cast(Callable[[], redis.Redis], inner.get_connection)  # type: ignore[union-attr]
        self._client_factory = client_factory
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._lock = threading.Lock()
        self._counters: dict[str, Counter] = {}
        self._client: redis.Redis | None = None
        self._script: Any = None
        self._stop = threading.Event()
        self.down = False
        self.syncs = 0  # passes that succeeded in this process: tests wait on it
        self.largest_batch = 0  # most hits one key flushed in one sync
        self.longest_period = 0.0  # most seconds between two successful syncs: h's period
        self._synced_at = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return redis.RedisError

    # -- the request thread: memory only ------------------------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        if self._pid != os.getpid():
            self._start()
        now = time.monotonic()
        with self._lock:
            counter = self._counters.get(key)
            if counter is None or now >= counter.expires_at:
                counter = self._counters[key] = Counter(expiry, now + expiry)
            counter.pending += amount
            return counter.count

    def get(self, key: str) -> int:
        with self._lock:
            counter = self._counters.get(key)
            return counter.count if counter and time.monotonic() < counter.expires_at else 0

    def get_expiry(self, key: str) -> float:
        with self._lock:
            counter = self._counters.get(key)
            left = counter.expires_at - time.monotonic() if counter else 0.0
        return time.time() + max(0.0, left)

    def check(self) -> bool:
        """Whether the last sync reached Redis (`limits`' storage interface; no I/O here)."""
        return not self.down

    # -- administration (`limits`' reset and clear; never per request) -------------------

    def reset(self) -> int | None:
        with self._lock:
            self._counters.clear()
        client = self._redis()
        names = list(client.scan_iter(match=f"{self.key_prefix}:*", count=1000))
        return int(client.delete(*names)) if names else 0

    def clear(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)
        self._redis().delete(f"{self.key_prefix}:{key}")

    # -- the sync thread ------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            # After a fork: the parent's counts are the parent's to flush, its client its own.
            self._counters.clear()
            self._lock = threading.Lock()
            self._client = None
            self._stop = threading.Event()
            # The thread holds the storage weakly: an app that is gone takes its thread along.
            thread = threading.Thread(
                target=_sync_loop,
                args=(weakref.ref(self), self._stop, self.sync_interval),
                name="ratelimit-sync",
                daemon=True,
            )
            self._synced_at = time.monotonic()
            thread.start()
            self._pid = os.getpid()

    def close(self) -> None:
        """Stop this process's sync thread (tests; a worker's ends with the process)."""
        self._stop.set()

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = self._client_factory()
            self._script = self._client.register_script(SYNC_SCRIPT)
        return self._client

    def sync(self) -> None:
        """Flush the hits taken since the last sync and read back the shared counts: one
        round trip for every key touched; none when nothing was (but a PING during an outage)."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, c in self._counters.items() if now >= c.expires_at]:
                del self._counters[key]  # the window is over: its count no longer matters
            batch = [(key, c, c.pending) for key, c in self._counters.items() if c.pending]
            for _, counter, delta in batch:
                counter.flushing += delta
                counter.pending = 0
        try:
            client = self._redis()
            if not batch:
                if self.down:
                    client.ping()
                self._reachable()
                return
            pipe = client.pipeline(transaction=False)
            for key, counter, delta in batch:
                name = f"{self.key_prefix}:{key}"
                self._script(keys=[name], args=[delta, counter.expiry * 1000], client=pipe)
            results = pipe.execute()
        except redis.RedisError as exc:
            with self._lock:
                for _, counter, delta in batch:
                    counter.flushing -= delta
                    counter.pending += delta  # sent again next time (dropped if the window ends)
            self._unreachable(exc)
            return
        received = time.monotonic()
        with self._lock:
            for (_, counter, delta), (count, ttl_ms) in zip(batch, results, strict=True):
                counter.flushing -= delta
                counter.synced = int(count)
                counter.expires_at = received + int(ttl_ms) / 1000
                self.largest_batch = max(self.largest_batch, delta)
        self._reachable()

    def _unreachable(self, exc: Exception) -> None:
        if not self.down:
            self._warn(
                "Rate limit storage unreachable (%s: %s): each process counts alone until Redis answers",
                type(exc).__name__,
                exc,
            )
            self.down = True  # after the warning: whoever sees it down finds the warning logged

    def _reachable(self) -> None:
        now = time.monotonic()
        self.longest_period = max(self.longest_period, now - self._synced_at)
        self._synced_at = now
        self.syncs += 1
        if self.down:
            self.down = False
            log.info("Rate limit storage recovered: counting in Redis again")


def _sync_loop(ref: weakref.ref[SyncedRedisStorage], stop: threading.Event, interval: float) -> None:
    while not stop.is_set():
        storage = ref()
        if storage is None:
            return
        try:
            storage.sync()
        except Exception:  # never let the thread die: the next interval tries again
            log.exception("Rate limit sync failed")
        del storage
        stop.wait(interval)
