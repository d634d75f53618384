"""Rate limits: one budget per caller across /api/v1, counted by `limits` on the shared Redis.

The caller is its API key when it sends a valid one, else its address (``request.remote_addr``,
already corrected by ProxyFix for ``TRUSTED_PROXIES``). Health, docs, both documents and
/metrics are outside the limits. A breach is a 429 problem+json with ``Retry-After`` and
``RateLimit-Limit``/``-Remaining``/``-Reset``.
No request waits on Redis: each process decides from its own counters and syncs them with
Redis every ``RATELIMIT_SYNC_INTERVAL`` (``extensions.ratelimit_storage``, which states the
tolerance). When Redis fails, each process counts on its own (one warning per outage) until a
sync succeeds again: requests keep passing.

The policy is one application-wide budget, so the hook is one `limits` strategy call per
limit. Flask-Limiter (which runs on the same `limits` strategies and storages) resolved
per-view, blueprint, meta and exemption limits on every request: 10 % of a read by id's CPU
(bench/README.md "Rate limits in one call").
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from functools import lru_cache
from typing import Any

from flask import Flask, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from api.contract.errors import problem
from api.pipeline.access import rate_limit_applies
from api.pipeline.auth import request_api_key
from core.context import request_object
from core.paths import is_api_operation
from extensions.ratelimit_storage import SCHEME

log = logging.getLogger(__name__)

EXTENSION = "wdapi.limiter"
LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
# After the storage raised (only a per-request Redis storage does), requests count in process
# this long before it is asked again: a hung Redis costs one request its socket timeout.
STORAGE_RETRY_AFTER = 1.0
# The counters' names are Flask-Limiter's for an application limit (``LIMITER/<caller>/global/
# <amount>/<multiples>/<granularity>``): a rolling upgrade from it keeps every caller's count.
SCOPE = "global"


def init_rate_limits(app: Flask) -> None:
    """Runs after the request id hook and before auth: unauthenticated floods are counted too."""
    config = app.config
    if not rate_limit_applies(config):
        return
    uri, options = _storage(config)
    options.update(config.get("RATELIMIT_STORAGE_OPTIONS", {}))  # tests swap the client
    storage = storage_from_string(uri, **options)
    assert isinstance(storage, Storage)  # a synchronous scheme: the URI is built above
    limiter = Limiter(parse_many(config["RATELIMIT_APPLICATION"]), storage)
    app.before_request(limiter.check)
    app.extensions[EXTENSION] = limiter


class Limiter:
    """Fixed windows, one counter per caller and limit; the storage decides in process
    (synced) or asks Redis. A storage error counts in this process instead, warned once."""

    def __init__(self, limits: list[RateLimitItem], storage: Storage):
        self.limits = limits
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)
        self.fallback = FixedWindowRateLimiter(MemoryStorage())
        self._retry_at = 0.0  # while in the future, the storage failed: count in process
        self._lock = threading.Lock()

    def check(self):
        """before_request: None, or the 429 of the first limit this request breaches."""
        if not is_api_operation(request_object().path):
            return None
        key = caller()
        for item in self.limits:
            strategy = self._hit(item, key)
            if strategy is not None:
                return self._breached(strategy, item, key)
        return None

    def _hit(self, item: RateLimitItem, key: str) -> FixedWindowRateLimiter | None:
        """Count one hit; the strategy that refused it, or None when it passes."""
        if self._retry_at and time.monotonic() < self._retry_at:
            return None if self.fallback.hit(item, key, SCOPE) else self.fallback
        try:
            # FixedWindowRateLimiter.hit, with the counter's name built once per caller.
            passed = self.storage.incr(_counter(item, key), item.get_expiry()) <= item.amount
        except Exception as err:  # a per-request storage's Redis failed: never the request
            self._failed(err)
            return None if self.fallback.hit(item, key, SCOPE) else self.fallback
        if self._retry_at:
            with self._lock:
                if self._retry_at:
                    self._retry_at = 0.0
                    log.info("rate-limit storage answers again: limits are shared again")
        return None if passed else self.strategy

    def _failed(self, err: Exception) -> None:
        with self._lock:
            first = not self._retry_at
            self._retry_at = time.monotonic() + STORAGE_RETRY_AFTER
        if first:
            log.warning("rate-limit storage unreachable, counting in this process: %r", err)

    def _breached(self, strategy: FixedWindowRateLimiter, item: RateLimitItem, key: str):
        headers = {}
        try:
            window_end, remaining = strategy.get_window_stats(item, key, SCOPE)
        except Exception:  # the storage failed after counting: the 429 goes without them
            pass
        else:
            reset = max(0, math.ceil(window_end - time.time()))
            values = (item.amount, remaining, reset)
            headers = {
                **dict(zip(LIMIT_HEADERS, map(str, values), strict=True)),
                "Retry-After": str(max(1, reset)),
            }
        return problem(429, str(item), headers=headers)


def _storage(config) -> tuple[str, dict[str, Any]]:
    """The storage's `limits` URI and options."""
    if not config["REDIS_URL"] and not config["REDIS_SENTINELS"]:
        return "memory://", {}  # no Redis: per process
    options: dict[str, Any] = {
        # Under the app's prefix (tests stay isolated); short timeouts: an outage costs little.
        "key_prefix": config["REDIS_KEY_PREFIX"] + "ratelimit",
        "socket_connect_timeout": config["REDIS_CONNECT_TIMEOUT"],
        "socket_timeout": config["REDIS_SOCKET_TIMEOUT"],
        "retry": Retry(NoBackoff(), 0),
    }
    if config["REDIS_PASSWORD"]:
        options["password"] = config["REDIS_PASSWORD"]
    if config["REDIS_SENTINELS"]:
        # Counts are read and written on the master: a replica's copy lags behind.
        options["use_replicas"] = False
        options["sentinel_kwargs"] = {k: v for k, v in options.items() if k.startswith("socket_")}
        uri = f"redis+sentinel://{','.join(config['REDIS_SENTINELS'])}/{config['REDIS_SENTINEL_MASTER']}"
        return _synced(config, uri, options)
    return _synced(config, config["REDIS_URL"], options)


def _synced(config, uri: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Any `limits` Redis URI (redis://, rediss://, redis+sentinel://h:p,h:p/name) decided in
    process and synced in the background; 0 s: `limits`' own storage, a round trip a hit."""
    if not config["RATELIMIT_SYNC_INTERVAL"]:
        return uri, options
    options = {
        **options,
        "sync_interval": config["RATELIMIT_SYNC_INTERVAL"],
        "warn_interval": config["REDIS_WARN_INTERVAL"],
    }
    return SCHEME + uri, options


def caller() -> str:
    """The rate-limit key: a digest of a valid API key (never the key itself), else the address."""
    key = request_api_key()
    if key is not None:
        return _key_digest(key)
    return f"addr:{request.remote_addr or ''}"


@lru_cache(maxsize=4096)  # a caller's counter per limit: its name is the same all window long
def _counter(item: RateLimitItem, key: str) -> str:
    return item.key_for(key, SCOPE)


@lru_cache(maxsize=64)  # valid keys only: the configured few
def _key_digest(key: str) -> str:
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:32]
