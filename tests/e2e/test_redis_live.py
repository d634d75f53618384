"""The cache under real gunicorn with several workers: no stale read after a write returns."""

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import need, reachable
from tests.redis_support import TEST_REDIS_URL, delete_keys, free_port, redis_test_prefix

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def call(port: int, method: str, path: str, body=None):
    # A fresh connection per request, so requests spread over the workers.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, response.getheader("X-Cache"), response.read()
    finally:
        conn.close()


@pytest.fixture
def server(sqlite_url):
    port = int(TEST_REDIS_URL.rsplit(":", 1)[1].split("/")[0])
    if not reachable("127.0.0.1", port):
        need(f"Redis at {TEST_REDIS_URL} (TEST_REDIS_URL) is not reachable")
    prefix = redis_test_prefix()
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": sqlite_url,
        "REDIS_URL": TEST_REDIS_URL,
        "REDIS_KEY_PREFIX": prefix,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "3",
        "GUNICORN_ACCESSLOG": "",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [str(GUNICORN), "-c", "gunicorn.conf.py", "run:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not reachable("127.0.0.1", port, timeout=0.2):
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
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
