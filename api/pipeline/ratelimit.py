"""Rate limits (Flask-Limiter on the shared Redis): one budget per caller across /api/v1.

The caller is its API key when it sends a valid one, else its address (``request.remote_addr``,
already corrected by ProxyFix for ``TRUSTED_PROXIES``). Health, docs, both documents and
/metrics are outside the limits. A breach is a 429 problem+json (``api.contract.errors``) with
``Retry-After`` and ``RateLimit-Limit``/``-Remaining``/``-Reset``.
No request waits on Redis: each process decides from its own counters and syncs them with
Redis every ``RATELIMIT_SYNC_INTERVAL`` (``extensions.ratelimit_storage``, which states the
tolerance). When Redis fails, each process counts on its own (one warning per outage) until a
sync succeeds again: requests keep passing.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from api.pipeline.access import rate_limit_applies
from api.pipeline.auth import request_api_key
from core.paths import is_api_operation
from extensions.ratelimit_storage import SCHEME

EXTENSION = "wdapi.limiter"
LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def init_rate_limits(app: Flask) -> None:
    """Runs after the request id hook and before auth: unauthenticated floods are counted too."""
    config = app.config
    if not rate_limit_applies(config):
        return
    # Registered before the limiter's own hooks, so it runs after them (Flask runs them reversed).
    app.after_request(add_rate_limit_headers)
    limiter = Limiter(
        caller,
        application_limits=[config["RATELIMIT_APPLICATION"]],  # shared by all operations
        # Flask-Limiter's headers put Retry-After on every response (and stretch a 503's
        # Retry-After to the window) and an epoch in Reset: ours follow the IETF draft.
        headers_enabled=False,
        strategy="fixed-window",  # one counter per caller and window
        **_storage(config),
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    limiter.init_app(app)
    _only_where_limited(app, limiter)
    app.extensions[EXTENSION] = limiter


def _storage(config) -> dict[str, Any]:
    if not config["REDIS_URL"] and not config["REDIS_SENTINELS"]:
        return {"storage_uri": "memory://"}  # no Redis: per process
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


def _synced(config, uri: str, options: dict[str, Any]) -> dict[str, Any]:
    """Any `limits` Redis URI (redis://, rediss://, redis+sentinel://h:p,h:p/name) decided in
    process and synced in the background; 0 s: `limits`' own storage, a round trip a hit."""
    if not config["RATELIMIT_SYNC_INTERVAL"]:
        return {"storage_uri": uri, "storage_options": options}
    options = {
        **options,
        "sync_interval": config["RATELIMIT_SYNC_INTERVAL"],
        "warn_interval": config["REDIS_WARN_INTERVAL"],
    }
    return {"storage_uri": SCHEME + uri, "storage_options": options}


def caller() -> str:
    """The rate-limit key: a digest of a valid API key (never the key itself), else the address."""
    key = request_api_key()
    if key is not None:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"addr:{request.remote_addr or ''}"


def _only_where_limited(app: Flask, limiter: Limiter) -> None:
    """Flask-Limiter's three hooks (check, headers, context release) run on every request
    and ask its filters only inside; where no limit applies (health, docs, /metrics) they
    are skipped outright: they were 15 % of a /healthz."""
    wrapped = 0
    for hooks in (
        app.before_request_funcs[None],
        app.after_request_funcs[None],
        app.teardown_request_funcs[None],
    ):
        for i, hook in enumerate(hooks):
            bound = hook.args[:1] if isinstance(hook, partial) else (getattr(hook, "__self__", None),)
            if bound == (limiter,):
                hooks[i] = _when_limited(hook)
                wrapped += 1
    if wrapped != 3:  # a Flask-Limiter upgrade changed its hooks: look again, do not guess
        raise RuntimeError(f"expected Flask-Limiter's 3 request hooks, found {wrapped}")


def _when_limited(hook: Callable) -> Callable:
    def hook_where_limited(*args):
        if not is_api_operation(request.path):
            return args[0] if args else None  # after_request: the response, unchanged
        return hook(*args)

    return hook_where_limited


def add_rate_limit_headers(response):
    # Only a 429 says where the caller stands (the window is read from this process's
    # counters; with RATELIMIT_SYNC_INTERVAL=0 it costs two Redis round trips).
    if response.status_code != 429:
        return response
    limit = current_app.extensions[EXTENSION].current_limit
    if limit is None:
        return response  # exempt, or the storage failed before counting
    try:
        reset = max(0, math.ceil(limit.window[0] - time.time()))
        values = (limit.limit.amount, limit.remaining, reset)
    except Exception:  # the storage failed after counting: the request passes without headers
        return response
    response.headers.update(zip(LIMIT_HEADERS, map(str, values), strict=True))
    response.headers["Retry-After"] = str(max(1, reset))
    return response
