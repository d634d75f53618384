"""CORS for browser clients and ProxyFix behind reverse proxies, each off unless configured."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from core.paths import API_PREFIX

CORS_EXPOSED = [
    "X-Total-Count",
    "Link",
    "X-Request-ID",
    "Location",
    "Retry-After",
    "Server-Timing",
    "ETag",
    "Idempotent-Replayed",
]
CORS_ALLOWED = ["Content-Type", "X-API-Key", "X-Request-ID", "If-Match", "If-None-Match", "Idempotency-Key"]


def init_cors(app: Flask) -> None:
    if app.config["CORS_ORIGINS"]:
        CORS(
            app,
            resources={f"{API_PREFIX}/*": {}},
            origins=list(app.config["CORS_ORIGINS"]),
            expose_headers=CORS_EXPOSED,
            allow_headers=CORS_ALLOWED,
            max_age=600,
        )


def init_proxy_fix(app: Flask) -> None:
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # Only behind this many proxies are X-Forwarded-* headers the truth.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
