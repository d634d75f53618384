"""Rate limits under real gunicorn: each worker starts its own sync thread after the fork
(the master none), every worker's hits reach Redis, and three workers share one budget
within the documented tolerance (docs/operations.md "Limits")."""

from __future__ import annotations

import os
import time

import pytest

from tests.helpers.gunicorn import Gunicorn
from tests.helpers.live import request
from tests.helpers.ratelimits import counted, most_within, wait_until
from tests.helpers.redis_support import TEST_REDIS_URL, delete_keys, redis_test_prefix, require_test_redis

LIMIT, WORKERS = 30, 3
OPERATION = "/api/v1/exceptions/divide?a=6&b=3"  # needs no dependency
PACE = 0.05  # seconds between requests: the budget takes well over a sync interval to spend
PERIOD = 1.0  # a generous sync period (0.2 s interval plus the sync) on a busy machine


@pytest.fixture
def server(sqlite_url, tmp_path):
    require_test_redis()
    prefix = redis_test_prefix()
    server = Gunicorn(
        tmp_path / "gunicorn.out",
        app="run:app",
        APP_ENV="test",
        DATABASE_URL=sqlite_url,
        REDIS_URL=TEST_REDIS_URL,
        REDIS_KEY_PREFIX=prefix,
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_ACCESSLOG="",
        LOG_LEVEL="WARNING",
        RATELIMIT_ENABLED="true",
        RATELIMIT_APPLICATION=f"{LIMIT} per minute",
    )
    try:
        server.wait_ready(timeout=20)
        server.prefix = prefix
        yield server
    finally:
        server.stop()
        delete_keys(TEST_REDIS_URL, f"{prefix}*")


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_workers_share_one_budget_and_the_master_starts_no_thread(server):
    master_threads = threads(server.pid)
    passed: list[float] = []
    statuses: list[int] = []
    # A fresh connection per request (live.request), so requests spread over the workers;
    # on past the first 429, as a caller that ignores it would go on.
    while 429 not in statuses or len(statuses) < statuses.index(429) + 6 * WORKERS:
        statuses.append(request(server.port, "GET", OPERATION).status)
        if statuses[-1] == 200:
            passed.append(time.monotonic())
        assert len(passed) < WORKERS * LIMIT, "the workers never shared the budget"
        time.sleep(PACE)
    assert set(statuses) == {200, 429}
    # One worker alone never passes the budget; together, at most (P - 1) x h over it (a worker
    # the caller had not hit since the budget ran out passes it until its next sync).
    h = most_within(passed, PERIOD)
    assert LIMIT <= len(passed) <= LIMIT + (WORKERS - 1) * h, (len(passed), h)
    # Each worker's thread flushed its hits, the 429s too (a thread started before the fork
    # would not run in the workers); the master has no thread more than before.
    wait_until(lambda: sum(counted(server.prefix).values()) == len(statuses), what="every hit in Redis")
    assert threads(server.pid) == master_threads
