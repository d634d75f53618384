"""CORS for browser clients and ProxyFix behind reverse proxies, each off unless configured."""

from __future__ import annotations

import logging
import threading

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from core.paths import API_PREFIX

log = logging.getLogger(__name__)

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
    else:
        app.wsgi_app = ForwardedWithoutProxies(app.wsgi_app)  # type: ignore[method-assign]


class ForwardedWithoutProxies:
    """Warns once (one app per worker process) when a request carries X-Forwarded-For while
    TRUSTED_PROXIES=0: behind a proxy every client then has the proxy's address, so all
    anonymous callers share one rate-limit bucket."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.warned = False
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not self.warned and "HTTP_X_FORWARDED_FOR" in environ:
            with self._lock:
                first, self.warned = not self.warned, True
            if first:
                log.warning(
                    "a request from %s carries X-Forwarded-For but TRUSTED_PROXIES=0: every client"
                    " behind a proxy gets the proxy's address (one rate-limit bucket for all); set"
                    " TRUSTED_PROXIES to the number of proxies in front of the app",
                    environ.get("REMOTE_ADDR"),
                )
        return self.wsgi_app(environ, start_response)
