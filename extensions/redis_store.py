"""The Redis extension: settings per app, one connection pool per process, created on first use.

``init_app`` only reads settings; nothing connects in the factory. The pool is built
lazily and rebuilt when the process id changes, so a gunicorn worker never uses a
pool (or socket) inherited over a fork. redis-py pools are thread-safe.

With ``REDIS_SENTINELS`` the pool is redis-py's Sentinel pool for ``REDIS_SENTINEL_MASTER``:
each new connection asks the sentinels for the master's address and checks that it answers
``ROLE`` as master (``CheckedSentinel``), and a connection error or a ``READONLY`` answer (the
old master, demoted) drops the connection, so the next command reaches the promoted replica.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.connection import parse_url
from redis.exceptions import ConnectionError, NoScriptError, RedisError, ResponseError, TimeoutError
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool

from core.context import app_object
from core.errors import Unavailable
from settings import ConfigError

log = logging.getLogger(__name__)
UNAVAILABLE = "Redis is unavailable; try again shortly."


class RedisUnavailable(Unavailable):
    """A Redis call failed. ``slow``: the failure cost the caller time (a timeout, a wait for
    a pooled connection, a sentinel that hung) rather than coming at once (refused, reset,
    no master yet)."""

    def __init__(self, detail: str, *, slow: bool):
        super().__init__(detail)
        self.slow = slow


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


class BlockingSentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """The Sentinel pool with the blocking pool's bound: a thread waits REDIS_POOL_TIMEOUT
    for a free connection instead of failing at once, as without Sentinel."""


class CheckedSentinel(Sentinel):
    """redis-py's Sentinel, with the check Redis's guide for Sentinel clients asks of them: the
    address a sentinel names must answer ``ROLE`` as master. A sentinel that has not yet learnt
    of a failover names the old master, dead or back as a replica; redis-py would connect to
    it and stay there (a replica answers PING and reads), so this process could not invalidate
    what the others read from the real master. Then the other sentinels are asked in turn.
    Runs once per new connection: one more connect and round trip, never per command."""

    def discover_master(self, service_name):
        address = super().discover_master(service_name)  # puts the sentinel that answered first
        if self._is_master(address):
            return address
        for sentinel in self.sentinels[1:]:  # not reordered: other threads may be discovering too
            try:
                masters: dict[str, Any] = sentinel.sentinel_masters()  # type: ignore[assignment]  # RESP2: a dict
                state = masters.get(service_name)
            except (ConnectionError, TimeoutError):
                continue
            if not state or not self.check_master_state(state, service_name):
                continue
            named = (state["ip"], state["port"])
            if named != address and self._is_master(named):
                return named
        raise MasterNotFoundError(f"No sentinel names a master of {service_name!r} that answers as one")

    def _is_master(self, address: tuple[str, int]) -> bool:
        client = redis.Redis(*address, **self.connection_kwargs)
        try:
            return client.execute_command("ROLE")[0] in (b"master", "master")
        except (ConnectionError, TimeoutError):
            return False
        except ResponseError:  # ROLE not allowed (an ACL): trust the sentinel, as redis-py does
            return True
        finally:
            client.close()


def one_command(client: redis.Redis, *args: Any) -> Any:
    """``args`` as one command on a connection of ``client``'s pool, and Redis's reply as
    sent (no response callback: for commands whose raw reply is the answer, such as MGET).

    The client's own path adds half a cache hit's Redis cost (25 us a command: its retry
    wrapper, response callbacks and observability hooks). Failures raise what the client
    raises; a connection that failed is closed, as the client closes it, and reconnects at
    its next checkout."""
    if client.connection is not None:  # bound to one connection (``session(replicated=True)``)
        return client.execute_command(*args)
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_command(*args)
        return connection.read_response()
    except ResponseError:
        raise  # an error reply: the connection is in step
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


def run_script(script: Script, client: redis.Redis, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """``script`` by EVALSHA, as ``one_command`` sends a command. A Redis that does not know
    it (restarted, or a new master) gets it through redis-py's own call, which loads it."""
    try:
        return one_command(client, "EVALSHA", script.sha, len(keys), *keys, *args)
    except NoScriptError:
        return script(keys=keys, args=args, client=client)


def sentinel_addresses(names: tuple[str, ...]) -> list[tuple[str, int]]:
    """``host:port`` items (validated by the declaration) as (host, port) pairs."""
    return [(host, int(port)) for host, _, port in (name.rpartition(":") for name in names)]


class RedisState:
    """One app's Redis settings, outage bookkeeping, and this process's client."""

    def __init__(self, config: Mapping):
        self.url: str = config["REDIS_URL"]
        self.sentinels = sentinel_addresses(config["REDIS_SENTINELS"])
        self.master_name: str = config["REDIS_SENTINEL_MASTER"]
        # An empty REDIS_URL (and no sentinels) runs the app without Redis: no cache, /redis/* answers 503.
        self.enabled = bool(self.url or self.sentinels)
        try:
            if self.url and not self.sentinels:
                parse_url(self.url)
        except ValueError as err:
            raise ConfigError(f"REDIS_URL is not a Redis URL: {err}") from None
        if self.sentinels:
            if not self.master_name:
                raise ConfigError("REDIS_SENTINEL_MASTER must name the master when REDIS_SENTINELS is set")
            hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
            self.safe_url = f"sentinel {self.master_name!r} via {hosts}"
        else:
            parts = urlsplit(self.url)
            # For logs: never print a password.
            self.safe_url = f"{parts.scheme}://{parts.hostname or ''}:{parts.port or 6379}{parts.path}"
        self.password: str | None = config["REDIS_PASSWORD"]
        self.max_connections: int = config["REDIS_MAX_CONNECTIONS"]
        self.connect_timeout: float = config["REDIS_CONNECT_TIMEOUT"]
        self.socket_timeout: float = config["REDIS_SOCKET_TIMEOUT"]
        self.pool_timeout: float = config["REDIS_POOL_TIMEOUT"]
        self.prefix: str = config["REDIS_KEY_PREFIX"]
        self.wait_replicas: int = config["REDIS_WAIT_REPLICAS"]
        self.wait_timeout: float = config["REDIS_WAIT_TIMEOUT"]
        if self.wait_replicas and self.wait_timeout >= self.socket_timeout:
            # WAIT blocks the socket: past the socket timeout the command would fail instead.
            raise ConfigError("REDIS_WAIT_TIMEOUT must be below REDIS_SOCKET_TIMEOUT")
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
                    self._client = self._make_client()
                    self._pid = os.getpid()
        return self._client

    def _make_client(self) -> redis.Redis:
        if not self.sentinels:
            return redis.Redis(connection_pool=self._make_pool())
        return self._sentinel(self.connect_timeout, self.socket_timeout).master_for(
            self.master_name,
            connection_pool_class=BlockingSentinelPool,
            max_connections=self.max_connections,
            timeout=self.pool_timeout,
        )

    def _sentinel(self, connect_timeout: float, socket_timeout: float) -> Sentinel:
        # The sentinels get the same short timeouts (a dead one costs a refused connect, a
        # hung one at most connect + socket timeout before the next is asked) and
        # REDIS_PASSWORD, as limits' redis+sentinel storage sends it to them.
        options = self._options(connect_timeout, socket_timeout)
        return CheckedSentinel(self.sentinels, sentinel_kwargs=options, **options)

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
        sentinel = self._sentinel(timeout, timeout) if self.sentinels else None
        if sentinel is not None:
            client = sentinel.master_for(self.master_name)
        else:
            client = redis.Redis.from_url(self.url, **self._options(timeout, timeout))
        try:
            client.ping()
        finally:
            client.close()
            if sentinel is not None:
                sentinel.close()

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
    def session(self, *, replicated: bool = False) -> Iterator[redis.Redis]:
        """The client; any Redis failure in the block becomes Unavailable (mapped in this one place).
        ``replicated``: writes whose loss in a failover matters; with REDIS_WAIT_REPLICAS the
        client is bound to one connection, so ``replicas_acked`` waits for exactly these writes."""
        client = self.client
        pinned = None
        started = time.monotonic()
        try:
            if replicated and self.wait_replicas:
                pool = client.connection_pool
                pinned = client = redis.Redis(connection_pool=pool, single_connection_client=True)
            yield client
        except RedisError as exc:
            self.failed(exc)
            # Slow: it took at least half a connect timeout (a prompt refusal takes microseconds).
            slow = time.monotonic() - started >= self.connect_timeout / 2
            raise RedisUnavailable(UNAVAILABLE, slow=slow) from None
        finally:
            if pinned is not None:
                pinned.close()
        self.succeeded()

    def replicas_acked(self, client: redis.Redis) -> bool:
        """WAIT until REDIS_WAIT_REPLICAS replicas have this connection's writes, at most
        REDIS_WAIT_TIMEOUT; True when they have (always, with REDIS_WAIT_REPLICAS=0).
        Call inside ``session(replicated=True)``."""
        if not self.wait_replicas:
            return True
        acked = client.wait(self.wait_replicas, max(1, int(self.wait_timeout * 1000)))
        return acked >= self.wait_replicas


class RedisStore:
    """Flask extension: ``init_app`` puts a RedisState in ``app.extensions["redis"]``."""

    def init_app(self, app: Flask) -> None:
        app.extensions["redis"] = RedisState(app.config)

    @property
    def state(self) -> RedisState:
        return app_object().extensions["redis"]

    @property
    def client(self) -> redis.Redis:
        return self.state.client

    def session(self, *, replicated: bool = False) -> AbstractContextManager[redis.Redis]:
        """``with redis_store.session() as client``: Redis failures raise Unavailable."""
        return self.state.session(replicated=replicated)

    def probe(self) -> Callable[[float], None] | None:
        """This app's readiness probe, or None when Redis is disabled (call in an app context)."""
        state = self.state
        return state.ping if state.enabled else None
