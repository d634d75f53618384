"""Redis outages: prompt 503s on /redis/*, records served from the database, recovery
without a restart. Uses unreachable and hung loopback ports and a redis-server of our
own (never the shared one)."""

import logging
import socket
import time
from urllib.parse import urlsplit

import pytest
import redis

from tests.helpers.faultproxy import BLACKHOLE, FORWARD, REFUSE, FaultProxy
from tests.helpers.ports import free_port
from tests.helpers.problems import assert_problem
from tests.helpers.redis_support import TEST_REDIS_URL, RedisServer, redis_test_prefix
from tests.helpers.require import need

PROMPT = 1.0  # seconds: the issue's bound for an answer during an outage
REDIS_CALLS = [
    ("get", "/api/v1/redis/ping", {}),
    ("put", "/api/v1/redis/keys/k", {"json": {"value": "v"}}),
    ("get", "/api/v1/redis/keys/k", {}),
    ("delete", "/api/v1/redis/keys/k", {}),
]


@pytest.fixture
def server():
    if not RedisServer.available():
        need("redis-server is not installed: cannot test a Redis restart")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hung_port():
    """A port that completes TCP handshakes and then never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def assert_prompt_503s(client):
    for method, path, kwargs in REDIS_CALLS:
        started = time.monotonic()
        response = getattr(client, method)(path, **kwargs)
        elapsed = time.monotonic() - started
        assert_problem(response, 503)
        assert elapsed < PROMPT, f"{method.upper()} {path} took {elapsed:.2f}s"


def assert_records_work_without_redis(client, record_id):
    assert client.post("/api/v1/wdtests", json={"id": record_id, "name": "a"}).status_code == 201
    response = client.get(f"/api/v1/wdtests/{record_id}")
    assert (response.status_code, response.headers["X-Cache"]) == (200, "MISS")
    assert client.patch(f"/api/v1/wdtests/{record_id}", json={"name": "b"}).status_code == 200
    assert client.get(f"/api/v1/wdtests/{record_id}").get_json()["name"] == "b"
    assert client.get("/api/v1/wdtests").get_json()["total"] >= 1
    assert client.delete(f"/api/v1/wdtests/{record_id}").status_code == 204
    assert_problem(client.get(f"/api/v1/wdtests/{record_id}"), 404)


def test_refused_port_gives_prompt_503s_and_records_still_work(make_app):
    client = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0").test_client()
    assert_prompt_503s(client)
    assert_records_work_without_redis(client, "refused")


def test_hung_redis_gives_prompt_503s_and_records_still_work(make_app, hung_port):
    client = make_app(REDIS_URL=f"redis://127.0.0.1:{hung_port}/0", REDIS_RETRY_INTERVAL=0).test_client()
    assert_prompt_503s(client)
    started = time.monotonic()
    assert_records_work_without_redis(client, "hung")
    # Eight requests, each paying at most one bounded Redis timeout.
    assert time.monotonic() - started < 8 * PROMPT


def test_outage_warnings_are_rate_limited(make_app, caplog):
    client = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", REDIS_RETRY_INTERVAL=0).test_client()
    client.post("/api/v1/wdtests", json={"id": "w", "name": "a"})
    with caplog.at_level(logging.WARNING, logger="extensions.redis_store"):
        for _ in range(20):
            assert client.get("/api/v1/wdtests/w").status_code == 200
        client.get("/api/v1/redis/ping")
    warnings = [r for r in caplog.records if r.name == "extensions.redis_store"]
    assert len(warnings) <= 1, [r.getMessage() for r in warnings]


def test_restarted_redis_is_used_again_without_an_app_restart(make_app, server):
    client = make_app(REDIS_URL=server.url, REDIS_RETRY_INTERVAL=0).test_client()
    client.post("/api/v1/wdtests", json={"id": "r", "name": "before"})
    assert client.get("/api/v1/wdtests/r").headers["X-Cache"] == "MISS"
    assert client.get("/api/v1/wdtests/r").headers["X-Cache"] == "HIT"
    assert client.put("/api/v1/redis/keys/k", json={"value": "v"}).status_code == 201

    server.stop()
    assert_prompt_503s(client)
    response = client.get("/api/v1/wdtests/r")
    assert (response.status_code, response.headers["X-Cache"]) == (200, "MISS")
    assert client.patch("/api/v1/wdtests/r", json={"name": "during"}).status_code == 200

    server.start()  # same port, empty (no persistence)
    assert client.get("/api/v1/redis/ping").status_code == 200  # the very next request
    response = client.get("/api/v1/wdtests/r")
    assert (response.headers["X-Cache"], response.get_json()["name"]) == ("MISS", "during")
    assert client.get("/api/v1/wdtests/r").headers["X-Cache"] == "HIT"
    assert client.put("/api/v1/redis/keys/k", json={"value": "again"}).status_code == 201


def test_invalidation_missed_during_an_outage_is_replayed(make_app, server):
    """Redis keeps its data but stops taking writes: the update's invalidation fails.
    The process remembers it and replays it before it serves from the cache again."""
    client = make_app(REDIS_URL=server.url, REDIS_RETRY_INTERVAL=0).test_client()
    client.post("/api/v1/wdtests", json={"id": "p", "name": "old"})
    client.get("/api/v1/wdtests/p")
    assert client.get("/api/v1/wdtests/p").headers["X-Cache"] == "HIT"

    admin = redis.Redis(port=server.port)
    admin.client_pause(10_000, all=False)  # writes (and scripts) wait; reads go on
    try:
        assert client.patch("/api/v1/wdtests/p", json={"name": "new"}).status_code == 200
        assert client.get("/api/v1/wdtests/p").get_json()["name"] == "new"
    finally:
        admin.client_unpause()
        admin.close()
    response = client.get("/api/v1/wdtests/p")
    assert (response.headers["X-Cache"], response.get_json()["name"]) == ("MISS", "new")
    response = client.get("/api/v1/wdtests/p")
    assert (response.headers["X-Cache"], response.get_json()["name"]) == ("HIT", "new")


def test_writes_skip_a_black_holed_redis_and_no_stale_read_after(make_app):
    """A black-holed Redis costs one socket timeout per REDIS_RETRY_INTERVAL, writes included;
    the queued invalidations are replayed before the cache is read again."""
    target = urlsplit(TEST_REDIS_URL)
    with FaultProxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        client = make_app(
            REDIS_URL=f"redis://127.0.0.1:{proxy.port}{target.path}",
            REDIS_KEY_PREFIX=redis_test_prefix(),
            REDIS_RETRY_INTERVAL=2.0,
        ).test_client()
        client.post("/api/v1/wdtests", json={"id": "bh", "name": "v0"})
        client.get("/api/v1/wdtests/bh")
        assert client.get("/api/v1/wdtests/bh").headers["X-Cache"] == "HIT"

        proxy.mode = BLACKHOLE
        started = time.monotonic()
        assert client.patch("/api/v1/wdtests/bh", json={"name": "v1"}).status_code == 200  # one timeout
        first = time.monotonic() - started
        started = time.monotonic()
        for n in range(2, 12):
            assert client.patch("/api/v1/wdtests/bh", json={"name": f"v{n - 1}"}).status_code == 200
            assert client.get("/api/v1/wdtests/bh").get_json()["name"] == f"v{n - 1}"
        assert time.monotonic() - started < 1.0, f"writes waited for Redis (first took {first:.2f}s)"

        proxy.mode = FORWARD
        time.sleep(2.1)  # the retry interval ends: the next read replays the invalidations first
        response = client.get("/api/v1/wdtests/bh")
        assert (response.headers["X-Cache"], response.get_json()["name"]) == ("MISS", "v10")
        response = client.get("/api/v1/wdtests/bh")
        assert (response.headers["X-Cache"], response.get_json()["name"]) == ("HIT", "v10")


def test_after_a_refusal_writes_invalidate_as_soon_as_redis_is_back(make_app):
    """A refusal is prompt, so writes do not wait out the retry interval: the first write
    after Redis is back invalidates at once, before another process (reaching Redis all
    along) reads the record. Only a slow failure makes writes skip Redis (the test above)."""
    target = urlsplit(TEST_REDIS_URL)
    prefix = redis_test_prefix()
    with FaultProxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        writer = make_app(
            REDIS_URL=f"redis://127.0.0.1:{proxy.port}{target.path}",
            REDIS_KEY_PREFIX=prefix,
            REDIS_RETRY_INTERVAL=60.0,  # far beyond the test: only a retry per write can help
        ).test_client()
        reader = make_app(REDIS_KEY_PREFIX=prefix).test_client()
        writer.post("/api/v1/wdtests", json={"id": "rf", "name": "v0"})
        reader.get("/api/v1/wdtests/rf")
        assert reader.get("/api/v1/wdtests/rf").headers["X-Cache"] == "HIT"

        proxy.mode = REFUSE
        assert writer.get("/api/v1/wdtests/rf").headers["X-Cache"] == "MISS"  # the writer backs off
        proxy.mode = FORWARD
        assert writer.patch("/api/v1/wdtests/rf", json={"name": "v1"}).status_code == 200
        response = reader.get("/api/v1/wdtests/rf")
        assert (response.headers["X-Cache"], response.get_json()["name"]) == ("MISS", "v1")


def test_writes_skip_redis_after_a_sentinel_that_hangs(make_app, hung_port):
    """Behind Sentinel a hang shows up as 'no master found' (redis-py hides the sentinel's
    timeout): still slow, so writes skip Redis for the retry interval as after a timeout."""
    client = make_app(
        REDIS_URL="",
        REDIS_SENTINELS=f"127.0.0.1:{hung_port}",
        REDIS_SENTINEL_MASTER="wdapi",
        REDIS_RETRY_INTERVAL=5.0,
    ).test_client()
    assert client.post("/api/v1/wdtests", json={"id": "hs", "name": "v0"}).status_code == 201  # one timeout
    started = time.monotonic()
    for n in range(1, 11):
        assert client.patch("/api/v1/wdtests/hs", json={"name": f"v{n}"}).status_code == 200
        assert client.get("/api/v1/wdtests/hs").get_json()["name"] == f"v{n}"
    assert time.monotonic() - started < 1.0, "writes waited for the hung sentinel"
