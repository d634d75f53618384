"""Rate limits decided in process, synced with Redis in the background: several app instances
(each its own storage and sync thread, as gunicorn workers are) share one budget; the overshoot
stays within the documented bound; a 429 arrives within a sync of the budget running out; no
request waits on Redis, up or down; an outage counts per process with one warning, and shared
counting resumes when Redis answers. Real Redis, broken through the fault proxy."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import pytest
import redis

from api.pipeline.ratelimit import EXTENSION
from extensions.ratelimit_storage import SyncedRedisStorage
from tests.helpers.faultproxy import BLACKHOLE, FORWARD, REFUSE, FaultProxy
from tests.helpers.ratelimits import (
    RecordingPool,
    counted,
    most_within,
    storage_of,
    wait_for_syncs,
    wait_until,
)
from tests.helpers.redis_support import TEST_REDIS_URL, redis_test_prefix, require_test_redis

OPERATION = "/api/v1/exceptions/divide?a=6&b=3"  # needs no dependency
INTERVAL = 0.2  # the default RATELIMIT_SYNC_INTERVAL
SLACK = 2.0  # seconds a busy shared machine may add to a sync; far below a window


@pytest.fixture
def instances(make_app):
    """``instances.make(limit, **config)``: an app on the test Redis under one key prefix
    shared by every app of the test, as instances of one deployment share REDIS_KEY_PREFIX."""
    require_test_redis()
    made = []

    def make(limit: int, **config):
        settings = {
            "RATELIMIT_ENABLED": True,
            "REDIS_KEY_PREFIX": space.prefix,
            "RATELIMIT_APPLICATION": f"{limit} per minute",
            "RATELIMIT_SYNC_INTERVAL": INTERVAL,
            "TRUSTED_PROXIES": 1,
            **config,
        }
        made.append(make_app(**settings))
        return made[-1]

    space = SimpleNamespace(prefix=redis_test_prefix(), make=make)
    yield space
    for app in made:
        storage = app.extensions[EXTENSION].storage
        if isinstance(storage, SyncedRedisStorage):
            storage.close()


@pytest.fixture
def proxy():
    """A fault proxy in front of the test Redis, and that Redis's URL through it."""
    require_test_redis()
    url = redis.connection.parse_url(TEST_REDIS_URL)
    with FaultProxy(url.get("host", "127.0.0.1"), url.get("port", 6379)) as fault:
        fault.redis_url = f"redis://{fault.url_host_port}/{url.get('db', 0)}"
        yield fault


def statuses(http, count: int, caller: str = "192.0.2.1") -> list[int]:
    return [http.get(OPERATION, headers={"X-Forwarded-For": caller}).status_code for _ in range(count)]


def test_two_instances_share_one_budget(instances):
    a, b = instances.make(6), instances.make(6)
    assert statuses(a.test_client(), 3) == [200] * 3
    wait_for_syncs(storage_of(a))
    # B has not read the caller's count yet: its first hit is counted on top of nothing.
    assert statuses(b.test_client(), 1) == [200]
    wait_for_syncs(storage_of(b))  # now B knows A's 3
    assert statuses(b.test_client(), 3) == [200, 200, 429]
    wait_for_syncs(storage_of(b))
    # A syncs only the keys it was hit on: its next hit still counts on the 3 it knew, and
    # the sync after it brings B's hits.
    assert statuses(a.test_client(), 1) == [200]
    wait_for_syncs(storage_of(a))
    assert statuses(a.test_client(), 1) == [429]
    # Every hit reached Redis once, the refused ones too (as with a Redis INCR per request).
    wait_for_syncs(storage_of(a))
    assert sum(counted(instances.prefix).values()) == 3 + 1 + 3 + 1 + 1


def test_a_429_arrives_within_a_sync_of_the_budget_running_out(instances):
    limit = 100
    a, b = instances.make(limit), instances.make(limit)
    # B is already running (its sync thread asleep mid-interval), as a busy worker would be.
    assert statuses(b.test_client(), 1, caller="192.0.2.200") == [200]
    assert statuses(a.test_client(), limit + 1) == [200] * limit + [429]
    spent_at = time.monotonic()
    http = b.test_client()
    passed = 0
    while statuses(http, 1) == [200]:
        passed += 1
        assert time.monotonic() - spent_at < 2 * INTERVAL + SLACK, "B never learned the budget was spent"
        time.sleep(0.005)  # a pace at which B alone cannot spend the budget in two intervals
    # A flushes within one interval, B reads it within the next: two intervals from the last
    # allowed hit, one from Redis's count reaching the limit.
    assert time.monotonic() - spent_at < 2 * INTERVAL + SLACK
    assert passed < limit  # the 429 came from a sync, not from B's own count


def test_overshoot_stays_within_the_documented_bound(instances):
    """P instances hammered at once: the budget is spent, and at most (P - 1) x h more pass,
    h being the most hits one instance took within its longest sync period (both measured)."""
    limit, processes = 1000, 3  # far more than one instance takes in a sync period
    apps = [instances.make(limit) for _ in range(processes)]
    passed: list[list[float]] = [[] for _ in range(processes)]

    def hammer(i: int) -> None:
        # Up to the first 429: counts only grow within a window, so nothing passes after it.
        http = apps[i].test_client()
        while statuses(http, 1) == [200]:
            passed[i].append(time.monotonic())

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "an instance never refused"
    storages = [storage_of(app) for app in apps]
    wait_for_syncs(*storages)  # every hit flushed
    period = max(storage.longest_period for storage in storages)
    h = max(most_within(times, period) for times in passed)
    total = sum(map(len, passed))
    assert limit <= total <= limit + (processes - 1) * h, (total, h, period)
    assert sum(counted(instances.prefix).values()) == total + processes  # the 429s counted too


@pytest.mark.parametrize(("interval", "waits"), [(INTERVAL, False), (0, True)], ids=["synced", "per-request"])
def test_no_request_waits_on_a_hung_redis(instances, proxy, interval, waits):
    """A black-holed Redis holds each command for REDIS_SOCKET_TIMEOUT; a request that asked it
    would take that long. The per-request storage (interval 0) is the control that does."""
    timeout = 2.0
    app = instances.make(
        100,
        REDIS_URL=proxy.redis_url,
        REDIS_SOCKET_TIMEOUT=timeout,
        REDIS_CONNECT_TIMEOUT=timeout,
        RATELIMIT_SYNC_INTERVAL=interval,
    )
    http = app.test_client()
    assert statuses(http, 1) == [200]  # connected while Redis answered
    proxy.mode = BLACKHOLE
    slowest = 0.0
    for _ in range(5):
        started = time.monotonic()
        assert statuses(http, 1) == [200]
        slowest = max(slowest, time.monotonic() - started)
    assert (slowest >= timeout / 2) is waits, slowest
    if not waits:
        storage = storage_of(app)
        wait_until(lambda: storage.down, timeout=3 * timeout, what="the sync to time out")


def test_no_redis_command_from_the_request_thread(instances):
    pool = RecordingPool.from_url(TEST_REDIS_URL)
    app = instances.make(
        5, RATELIMIT_STORAGE_OPTIONS={"client_factory": lambda: redis.Redis(connection_pool=pool)}
    )
    http = app.test_client()
    assert statuses(http, 6) == [200] * 5 + [429]  # a 429 reads its window, from memory too
    wait_for_syncs(storage_of(app))
    request_thread = threading.current_thread().name
    assert request_thread not in pool.threads
    assert "ratelimit-sync" in pool.threads  # the pool does see the connections taken
    assert sum(counted(instances.prefix).values()) == 6
    pool.disconnect()


def test_redis_down_counts_per_process_with_one_warning_then_shared_again(instances, proxy, caplog):
    limit = 5
    a, b = (instances.make(limit, REDIS_URL=proxy.redis_url) for _ in range(2))
    A, B = a.test_client(), b.test_client()
    assert statuses(A, 2) == [200, 200]
    wait_for_syncs(storage_of(a))  # nothing in flight when Redis goes
    proxy.mode = REFUSE
    with caplog.at_level(logging.WARNING, logger="extensions.ratelimit_storage"):
        # Each process goes on alone: A from the 2 it knows, B (which never saw them) from 0.
        assert statuses(A, 4) == [200, 200, 200, 429]
        assert statuses(B, limit + 1) == [200] * limit + [429]
        wait_until(lambda: storage_of(a).down and storage_of(b).down, what="both syncs to fail")
        assert statuses(B, 1) == [429]
    warnings = [r for r in caplog.records if r.name == "extensions.ratelimit_storage"]
    assert len(warnings) == 2 and all("unreachable" in r.getMessage() for r in warnings)  # one a process

    proxy.mode = FORWARD
    wait_until(lambda: not (storage_of(a).down or storage_of(b).down), what="both syncs to succeed")
    wait_for_syncs(storage_of(a), storage_of(b))
    # The outage's hits were flushed once each: 2 before, 4 on A, 7 on B.
    assert sum(counted(instances.prefix).values()) == 2 + 4 + 7
    # Shared counting again, for a new caller: A's 3 hits are B's too.
    assert statuses(A, 3, caller="192.0.2.9") == [200] * 3
    wait_for_syncs(storage_of(a))
    assert statuses(B, 1, caller="192.0.2.9") == [200]
    wait_for_syncs(storage_of(b))
    assert statuses(B, 2, caller="192.0.2.9") == [200, 429]
