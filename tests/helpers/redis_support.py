"""Redis for tests: a private key prefix per app, cleanup, and a throwaway redis-server.

Every test app gets its own prefix under ``wdapi-test-<session>-``, so parallel
suites (and tests within one suite) never see each other's keys on the shared
Redis; the session removes them all at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import redis

from tests.helpers.ports import free_port
from tests.helpers.require import require_port

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SESSION_PREFIX = f"wdapi-test-{uuid.uuid4().hex[:12]}-"


def require_test_redis() -> None:
    """Skip (or fail under REQUIRE_SERVICES=1) when the test Redis is not reachable."""
    url = redis.connection.parse_url(TEST_REDIS_URL)
    require_port(
        url.get("host", "127.0.0.1"), url.get("port", 6379), f"Redis ({TEST_REDIS_URL}, TEST_REDIS_URL)"
    )


def redis_test_prefix() -> str:
    return f"{SESSION_PREFIX}{uuid.uuid4().hex[:8]}:"


def redis_config() -> dict:
    """Test config for the app: the test Redis and a fresh key prefix."""
    return {"REDIS_URL": TEST_REDIS_URL, "REDIS_KEY_PREFIX": redis_test_prefix()}


def delete_keys(url: str, pattern: str) -> int:
    """Delete every key matching ``pattern``; 0 when Redis is unreachable."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        names = list(client.scan_iter(match=pattern, count=1000))
        return client.delete(*names) if names else 0
    except redis.RedisError:
        return 0
    finally:
        client.close()


def cleanup_session_keys() -> int:
    return delete_keys(TEST_REDIS_URL, f"{SESSION_PREFIX}*")


class RedisServer:
    """A redis-server of our own on a free loopback port, to stop and start at will."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self, timeout: float = 10) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
