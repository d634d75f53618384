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
from collections.abc import Mapping
from urllib.parse import urlsplit

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry

from services.errors import Unavailable
from settings import ConfigError

log = logging.getLogger(__name__)


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


def _number(config: Mapping, key: str, kind: type, minimum: float):
    # Values may come from the environment as strings; refuse bad ones at startup.
    try:
        value = kind(config[key])
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a {kind.__name__}; got {config[key]!r}") from None
    if value < minimum:
        raise ConfigError(f"{key} must be at least {minimum}; got {value!r}")
    return value


class RedisState:
    """One app's Redis settings, outage bookkeeping, and this process's client."""

    def __init__(self, config: Mapping):
        self.url = str(config["REDIS_URL"] or "")
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
        self.password = config.get("REDIS_PASSWORD") or None
        self.max_connections = _number(config, "REDIS_MAX_CONNECTIONS", int, 1)
        self.connect_timeout = _number(config, "REDIS_CONNECT_TIMEOUT", float, 0.001)
        self.socket_timeout = _number(config, "REDIS_SOCKET_TIMEOUT", float, 0.001)
        self.pool_timeout = _number(config, "REDIS_POOL_TIMEOUT", float, 0)
        self.retry_interval = _number(config, "REDIS_RETRY_INTERVAL", float, 0)
        self.cache_ttl = _number(config, "CACHE_TTL", int, 0)
        self.prefix = str(config["REDIS_KEY_PREFIX"])
        self.warn = RateLimitedWarning(log, _number(config, "REDIS_WARN_INTERVAL", float, 0))
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._client: redis.Redis | None = None
        self._skip_until = 0.0
        self.down = False
        # Ids whose invalidation failed; retried before this process next reads the cache.
        self.pending: dict[tuple[str, str], None] = {}
        self.pending_lock = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        """The client on this process's pool (built on first use, again after a fork).
        Raises Unavailable when Redis is disabled."""
        if not self.enabled:
            raise Unavailable("Redis is disabled on this server (REDIS_URL is empty).")
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._client = redis.Redis(connection_pool=self._make_pool())
                    self._pid = os.getpid()
        return self._client

    def _make_pool(self) -> redis.ConnectionPool:
        # Blocking: a thread waits briefly for a free connection instead of failing at once.
        # No retries: timeouts bound each command, and the pool reconnects stale sockets itself.
        return redis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=self.pool_timeout,
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=self.socket_timeout,
            retry=Retry(NoBackoff(), 0),
            **({"password": self.password} if self.password else {}),
        )

    def key(self, *parts: str) -> str:
        """A key under the app's prefix: every key the app touches goes through here."""
        return self.prefix + ":".join(parts)

    def failed(self, exc: Exception) -> None:
        """Record a failed call: warn (rate-limited) and let the cache skip Redis for a while."""
        self.down = True
        self._skip_until = time.monotonic() + self.retry_interval
        self.warn("Redis at %s is unavailable: %s: %s", self.safe_url, type(exc).__name__, exc)

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            log.info("Redis at %s is reachable again", self.safe_url)

    def cache_usable(self) -> bool:
        """False while the cache is off (no Redis, CACHE_TTL=0) or backing off after a failure."""
        return self.enabled and self.cache_ttl > 0 and time.monotonic() >= self._skip_until


class RedisExt:
    """Flask extension: ``init_app`` puts a RedisState in ``app.extensions["redis"]``."""

    def init_app(self, app: Flask) -> None:
        app.extensions["redis"] = RedisState(app.config)

    @property
    def state(self) -> RedisState:
        return current_app.extensions["redis"]

    @property
    def client(self) -> redis.Redis:
        return self.state.client
