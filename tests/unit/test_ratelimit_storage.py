"""The synced storage without Redis: registered by scheme (Sentinel included), decisions and
windows from this process's counters alone. Its syncs are tested against Redis in
tests/api/test_rate_limit_sync.py."""

from __future__ import annotations

import time

import pytest
import redis
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.sentinel import SentinelConnectionPool

from extensions.ratelimit_storage import SyncedRedisStorage
from tests.helpers.ports import dead_port


@pytest.fixture
def offline():
    """A storage whose Redis refuses: every decision is made from memory."""
    url = f"synced+redis://127.0.0.1:{dead_port()}/0"
    storage = SyncedRedisStorage(url, sync_interval=0.05, socket_connect_timeout=0.2)
    yield storage
    storage.close()


@pytest.mark.parametrize(
    "uri",
    [
        "synced+redis://127.0.0.1:6379/0",
        "synced+rediss://127.0.0.1:6380/0",
        "synced+redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster",
    ],
)
def test_registered_by_scheme(uri):
    storage = storage_from_string(uri, key_prefix="p")
    assert isinstance(storage, SyncedRedisStorage)
    storage.close()


def test_a_sentinel_uri_gives_the_sentinel_master_client_without_connecting():
    storage = storage_from_string("synced+redis+sentinel://127.0.0.1:26379/mymaster")
    assert isinstance(storage, SyncedRedisStorage)
    client = storage._client_factory()
    assert isinstance(client.connection_pool, SentinelConnectionPool)
    assert client.connection_pool.service_name == "mymaster"


def test_a_client_factory_replaces_the_uri():
    made = redis.Redis(port=dead_port())
    storage = SyncedRedisStorage("synced+redis://ignored:1/0", client_factory=lambda: made)
    assert storage._redis() is made


def test_decides_from_memory_and_warns_once(offline, caplog):
    limiter, item = FixedWindowRateLimiter(offline), parse("3/minute")
    assert [limiter.hit(item, "caller") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(item, "other")
    assert limiter.get_window_stats(item, "caller").remaining == 0
    assert 55 < limiter.get_window_stats(item, "caller").reset_time - time.time() <= 60
    deadline = time.monotonic() + 5
    while not offline.down:
        assert time.monotonic() < deadline, "the sync never failed"
        time.sleep(0.01)
    assert not offline.check()
    warnings = [r for r in caplog.records if r.name == "extensions.ratelimit_storage"]
    assert len(warnings) == 1


def test_a_new_window_starts_from_zero(offline):
    limiter, item = FixedWindowRateLimiter(offline), parse("2/second")
    assert [limiter.hit(item, "caller") for _ in range(3)] == [True, True, False]
    time.sleep(1.05)
    assert [limiter.hit(item, "caller") for _ in range(3)] == [True, True, False]
