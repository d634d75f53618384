"""Readiness checks: each dependency answered within a short timeout, or not."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

import pika
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

OK, DOWN, DISABLED = "ok", "down", "disabled"


def ping_database(engine: Engine, timeout: float) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def ping_redis(url: str, timeout: float, password: str | None = None) -> None:
    # No retries: a probe reports the state now, it does not wait for recovery.
    # ``password`` is REDIS_PASSWORD, used (as by the app's pool) when the URL carries none.
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        **({"password": password} if password else {}),
    )
    try:
        client.ping()
    finally:
        client.close()


def ping_rabbitmq(url: str, timeout: float) -> None:
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = timeout
    pika.BlockingConnection(params).close()


def check(
    *,
    engine: Engine,
    redis_url: str | None,
    amqp_url: str | None,
    timeout: float,
    redis_password: str | None = None,
) -> dict[str, str]:
    """``{"database"|"redis"|"rabbitmq": "ok"|"down"|"disabled"}``, checked in parallel. Never raises."""
    probes: dict[str, Callable[[], None] | None] = {
        "database": lambda: ping_database(engine, timeout),
        "redis": (lambda: ping_redis(redis_url, timeout, redis_password)) if redis_url else None,
        "rabbitmq": (lambda: ping_rabbitmq(amqp_url, timeout)) if amqp_url else None,
    }
    results = {name: DISABLED for name, probe in probes.items() if probe is None}
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="readyz")
    futures = {name: pool.submit(probe) for name, probe in probes.items() if probe is not None}
    wait(futures.values(), timeout=timeout + 0.5)
    # A probe stuck past its timeout is abandoned, not waited for.
    pool.shutdown(wait=False, cancel_futures=True)
    for name, future in futures.items():
        if not future.done():
            log.warning("readiness: %s did not answer within %.1fs", name, timeout)
            results[name] = DOWN
        elif future.exception() is not None:
            log.warning("readiness: %s is down: %s", name, type(future.exception()).__name__)
            results[name] = DOWN
        else:
            results[name] = OK
    return {name: results[name] for name in probes}
