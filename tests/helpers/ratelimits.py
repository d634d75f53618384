"""Rate-limit storages in tests: reach an app's, wait for its background syncs, and see which
threads take Redis connections."""

from __future__ import annotations

import threading
import time

import redis
from flask import Flask

from api.pipeline.ratelimit import EXTENSION
from extensions.ratelimit_storage import SyncedRedisStorage
from tests.helpers.redis_support import TEST_REDIS_URL


def storage_of(app: Flask) -> SyncedRedisStorage:
    storage = app.extensions[EXTENSION].storage
    assert isinstance(storage, SyncedRedisStorage), type(storage)
    return storage


def wait_for_syncs(*storages: SyncedRedisStorage, passes: int = 2, timeout: float = 10) -> None:
    """Wait until each storage completed ``passes`` more syncs: two guarantee one that started
    after the caller's last hit. Fails after ``timeout`` seconds (the machine may be busy)."""
    targets = [(s, s.syncs + passes) for s in storages]
    deadline = time.monotonic() + timeout
    while not all(s.syncs >= target for s, target in targets):
        assert time.monotonic() < deadline, "the rate-limit sync thread made no progress"
        time.sleep(0.005)


def wait_until(predicate, timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def most_within(times: list[float], period: float) -> int:
    """The most of ``times`` (sorted) that fall within any ``period`` seconds."""
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > period:
            start += 1
        most = max(most, end - start + 1)
    return most


def counted(prefix: str) -> dict[str, int]:
    """The rate-limit counters Redis holds under an app's key prefix."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        names = list(client.scan_iter(match=f"{prefix}ratelimit:*"))
        return {name.decode(): int(client.get(name) or 0) for name in names}
    finally:
        client.close()


class RecordingPool(redis.ConnectionPool):
    """A real connection pool that notes the name of every thread taking a connection."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.threads: list[str] = []

    def get_connection(self, *args, **kwargs):
        self.threads.append(threading.current_thread().name)
        return super().get_connection(*args, **kwargs)
