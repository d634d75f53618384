"""``/metrics`` (Prometheus text format) and the request metrics: outside /api/v1, no key,
no rate limit (``api.ratelimit`` limits /api/v1 only)."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, request
from sqlalchemy.exc import SQLAlchemyError

from extensions import db, metrics
from extensions.database import STATE_CODES
from services import outbox
from services.errors import DomainError

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
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.get("metrics_started")
    labels = (request.endpoint or "unmatched", request.method, str(response.status_code))
    metrics.REQUESTS.labels(*labels).inc()
    if started is not None:
        metrics.LATENCY.labels(*labels).observe(time.perf_counter() - started)
    pool = db.engine.pool
    if hasattr(pool, "checkedout"):  # QueuePool; SQLite's in-memory pools keep no count
        metrics.DB_POOL_IN_USE.set(pool.checkedout())
    breaker = db.breaker
    if breaker is not None:
        metrics.DB_BREAKER.set(STATE_CODES[breaker.state])
    return response
