"""Liveness and readiness probes, outside the versioned API and its auth."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, request

from extensions import db
from services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 while the process serves requests; checks nothing else."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """200 when every required dependency answers, 503 otherwise (and while draining)."""
    if request.environ.get("wdapi.draining"):  # set by the drain after SIGTERM (serving/drain.py)
        return {"status": "draining"}, 503, {"Cache-Control": "no-store"}
    config = current_app.config
    results = health.check(timeout=config["READY_TIMEOUT"])
    required = list(config["READY_REQUIRES"])
    ready = all(results[name] == health.OK for name in required)
    body = {"status": "ready" if ready else "unavailable", **results, "required": required}
    breaker = db.breaker
    if breaker is not None:
        body["database_circuit"] = breaker.state
    return body, 200 if ready else 503, {"Cache-Control": "no-store"}


def register_health(app: Flask) -> None:
    app.register_blueprint(bp)
