"""The cache under real gunicorn with several workers: no stale read after a write returns."""

import json

import pytest

from tests.helpers.gunicorn import Gunicorn
from tests.helpers.live import request
from tests.helpers.redis_support import TEST_REDIS_URL, delete_keys, redis_test_prefix, require_test_redis


def call(port: int, method: str, path: str, body=None):
    # A fresh connection per request, so requests spread over the workers.
    response = request(port, method, path, body, timeout=10)
    return response.status, response.header("X-Cache"), response.body


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
        WEB_CONCURRENCY="3",
        GUNICORN_ACCESSLOG="",
        LOG_LEVEL="WARNING",
    )
    try:
        server.wait_ready(timeout=20)
        yield server.port
    finally:
        server.stop()
        delete_keys(TEST_REDIS_URL, f"{prefix}*")


def test_no_worker_serves_a_stale_record_after_a_write(server):
    assert call(server, "POST", "/api/v1/wdtests", {"id": "live", "name": "n0"})[0] == 201
    caches = []
    for i in range(1, 21):
        status, _, _ = call(server, "PATCH", "/api/v1/wdtests/live", {"name": f"n{i}"})
        assert status == 200
        for _ in range(4):
            status, cache, body = call(server, "GET", "/api/v1/wdtests/live")
            assert status == 200 and json.loads(body)["name"] == f"n{i}"
            caches.append(cache)
    assert "HIT" in caches and "MISS" in caches
    assert call(server, "DELETE", "/api/v1/wdtests/live")[0] == 204
    assert [call(server, "GET", "/api/v1/wdtests/live")[0] for _ in range(4)] == [404] * 4


def test_key_value_round_trip_across_workers(server):
    assert call(server, "PUT", "/api/v1/redis/keys/live%20key", {"value": "v"})[0] == 201
    for _ in range(4):
        status, _, body = call(server, "GET", "/api/v1/redis/keys/live%20key")
        assert status == 200 and json.loads(body) == {"key": "live key", "value": "v", "ttl": None}
    assert call(server, "GET", "/api/v1/redis/ping")[0] == 200
