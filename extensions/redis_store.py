"""The Redis extension: settings per app, one connection pool per process, created on first use.

``init_app`` only reads settings; nothing connects in the factory. The pool is built
lazily and rebuilt when the process id changes, so a gunicorn worker never uses a
pool (or socket) inherited over a fork. redis-py pools are thread-safe.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from urllib.parse import urlsplit

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.exceptions import RedisError
from redis.retry import Retry

from core.errors import Unavailable
from settings import ConfigError

log = logging.getLogger(__name__)
UNAVAILABLE = "Redis is unavailable; try again shortly."


class RateLimitedWarning:
    """Log a warning at most once per ``interval`` seconds per process, counting the rest."""

    def __init__(self, logger: logging.Logger, interval: float):
        self.logger = logger
        self.interval = interval
        self._lock = threading.Lock()
        self._next_at = 0.0
        self._held_back = 0

    def __call__(self, msg: str, *args) -> bool:
        """Log ``msg`` unless one was logged less than ``interval`` ago; True when logged."""
        now = time.monotonic()
        with self._lock:
            if now < self._next_at:
                self._held_back += 1
                return False
            self._next_at = now + self.interval
            held_back, self._held_back = self._held_back, 0
        self.logger.warning(msg + " (%d similar warnings held back)", *args, held_back)
        return True


class RedisState:
    """One app's Redis settings, outage bookkeeping, and this process's client."""

    def __init__(self, config: Mapping):
        self.url: str = config["REDIS_URL"]
        # An empty REDIS_URL runs the app without Redis: no cache, /redis/* answers 503.
        self.enabled = bool(self.url)
        try:
            if self.enabled:
                parse_url(self.url)
        except ValueError as err:
            raise ConfigError(f"REDIS_URL is not a Redis URL: {err}") from None
        parts = urlsplit(self.url)
        # For logs: never print a password.
        self.safe_url = f"{parts.scheme}://{parts.hostname or ''}:{parts.port or 6379}{parts.path}"
        self.password: str | None = config["REDIS_PASSWORD"]
        self.max_connections: int = config["REDIS_MAX_CONNECTIONS"]
        self.connect_timeout: float = config["REDIS_CONNECT_TIMEOUT"]
        self.socket_timeout: float = config["REDIS_SOCKET_TIMEOUT"]
        self.pool_timeout: float = config["REDIS_POOL_TIMEOUT"]
        self.prefix: str = config["REDIS_KEY_PREFIX"]
        self.warn = RateLimitedWarning(log, config["REDIS_WARN_INTERVAL"])
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._client: redis.Redis | None = None
        self.down = False

    @property
    def client(self) -> redis.Redis:
        """The client on this process's pool (built on first use, again after a fork).
        Raises Unavailable when Redis is disabled."""
        if not self.enabled:
            raise Unavailable("Redis is disabled on this server (REDIS_URL is empty).")
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._client = redis.Redis(connection_pool=self._make_pool())
                    self._pid = os.getpid()
        return self._client

    def _options(self, connect_timeout: float, socket_timeout: float) -> dict:
        # No retries: timeouts bound each command, and a pool reconnects stale sockets itself.
        return {
            "socket_connect_timeout": connect_timeout,
            "socket_timeout": socket_timeout,
            "retry": Retry(NoBackoff(), 0),
            **({"password": self.password} if self.password else {}),
        }

    def _make_pool(self) -> redis.ConnectionPool:
        # Blocking: a thread waits briefly for a free connection instead of failing at once.
        return redis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=self.pool_timeout,
            **self._options(self.connect_timeout, self.socket_timeout),
        )

    def ping(self, timeout: float) -> None:
        """PING on a fresh connection (not the pool) within ``timeout``: a readiness probe."""
        client = redis.Redis.from_url(self.url, **self._options(timeout, timeout))
        try:
            client.ping()
        finally:
            client.close()

    def key(self, *parts: str) -> str:
        """A key under the app's prefix: every key the app touches goes through here."""
        return self.prefix + ":".join(parts)

    def failed(self, exc: Exception) -> None:
        """Record a failed call: warn, rate-limited."""
        self.down = True
        self.warn("Redis at %s is unavailable: %s: %s", self.safe_url, type(exc).__name__, exc)

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            log.info("Redis at %s is reachable again", self.safe_url)

    @contextmanager
    def session(self) -> Iterator[redis.Redis]:
        """The client; any Redis failure in the block becomes Unavailable (mapped in this one place)."""
        client = self.client
        try:
            yield client
        except RedisError as exc:
            self.failed(exc)
            raise Unavailable(UNAVAILABLE) from None
        self.succeeded()


class RedisStore:
    """Flask extension: ``init_app`` puts a RedisState in ``app.extensions["redis"]``."""

    def init_app(self, app: Flask) -> None:
        app.extensions["redis"] = RedisState(app.config)

    @property
    def state(self) -> RedisState:
        return current_app.extensions["redis"]

    @property
    def client(self) -> redis.Redis:
        return self.state.client

    def session(self) -> AbstractContextManager[redis.Redis]:
        """``with redis_store.session() as client``: Redis failures raise Unavailable."""
        return self.state.session()

    def probe(self) -> Callable[[float], None] | None:
        """This app's readiness probe, or None when Redis is disabled (call in an app context)."""
        state = self.state
        return state.ping if state.enabled else None
