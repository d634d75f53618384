"""Readiness checks: each dependency answered within a short timeout, or not."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from extensions import amqp, db, redis_store

log = logging.getLogger(__name__)

OK, DOWN, DISABLED = "ok", "down", "disabled"


def check(*, timeout: float) -> dict[str, str]:
    """``{"database"|"redis"|"rabbitmq": "ok"|"down"|"disabled"}``, checked in parallel with the
    extensions' own connection settings. Never raises. Call in an app context."""
    probes: dict[str, Callable[[float], None] | None] = {
        "database": db.probe(),
        "redis": redis_store.probe(),
        "rabbitmq": amqp.probe(),
    }
    results = {name: DISABLED for name, probe in probes.items() if probe is None}
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="readyz")
    futures = {name: pool.submit(probe, timeout) for name, probe in probes.items() if probe is not None}
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
