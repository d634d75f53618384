"""``/metrics`` (Prometheus text format) and the request metrics: outside /api/v1, no key,
no rate limit (``api.pipeline.ratelimit`` limits /api/v1 only)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, Response
from sqlalchemy.exc import SQLAlchemyError

from core.context import g_object, request_object
from core.errors import DomainError
from extensions import db, metrics
from extensions.database import STATE_CODES
from services import outbox

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    return Response(metrics.exposition(pending_events), mimetype=None, content_type=metrics.CONTENT_TYPE)


def pending_events():
    try:
        return outbox.get_pending_summary()
    except (SQLAlchemyError, DomainError):
        db.session.rollback()
        return 0, None  # the database is down: /readyz says so; the scrape still answers


def register_metrics(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_start)
    app.after_request(_observe)


def _start() -> None:
    g_object().metrics_started = time.perf_counter()


# Each (endpoint, method, status) child, looked up once: ``labels()`` validates and locks
# on every call (it was most of the metrics' cost per request).
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
# The gauges' last values in this process: a multiprocess gauge write is a file write.
_last: dict[str, float] = {}


def _child(endpoint: str, method: str, status: int):
    key = (endpoint, method, status)
    child = _children.get(key)
    if child is None:
        labels = (endpoint, method, str(status))
        child = _children[key] = (metrics.REQUESTS.labels(*labels), metrics.LATENCY.labels(*labels))
    return child


def _set(gauge, name: str, value: float) -> None:
    if _last.get(name) != value:
        _last[name] = value
        gauge.set(value)


def _observe(response):
    started = g_object().get("metrics_started")
    req = request_object()
    requests, latency = _child(req.endpoint or "unmatched", req.method, response.status_code)
    requests.inc()
    if started is not None:
        latency.observe(time.perf_counter() - started)
    in_use = db.checked_out()
    if in_use is not None:  # QueuePools; SQLite's in-memory pools keep no count
        _set(metrics.DB_POOL_IN_USE, "pool", in_use)
    breaker = db.breaker
    if breaker is not None:
        _set(metrics.DB_BREAKER, "breaker", STATE_CODES[breaker.state])
    return response
