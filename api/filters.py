"""Global request hooks (the tutorial's ``filter/requestFilter.py``): request id,
path filter, API-key auth, timing, CORS and proxy headers."""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid

from flask import Flask, current_app, g, request
from flask_cors import CORS
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix

from api import API_PREFIX
from api.errors import problem

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
API_KEY_HEADER = "X-API-Key"
SPEC_PATH = f"{API_PREFIX}/swagger.json"
HEALTH_PATHS = ("/healthz", "/readyz")
OPEN_PATHS = ("/docs", *HEALTH_PATHS)
STATIC_PREFIX = "/swaggerui/"  # Flask-RESTX's Swagger UI assets
# Visible ASCII only: a client's id lands in logs and headers verbatim.
SANE_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
READ_METHODS = {"GET", "HEAD"}
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


def register_request_hooks(app: Flask) -> None:
    """Hooks run in this order; ``after_request`` also runs for error responses."""
    app.before_request(assign_request_id)
    app.before_request(reject_unknown_paths)
    app.before_request(require_api_key)
    app.after_request(add_response_headers)
    if app.config["CORS_ORIGINS"]:
        CORS(
            app,
            resources={f"{API_PREFIX}/*": {}},
            origins=list(app.config["CORS_ORIGINS"]),
            expose_headers=CORS_EXPOSED,
            allow_headers=CORS_ALLOWED,
            max_age=600,
        )
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # Only behind this many proxies are X-Forwarded-* headers the truth.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def assign_request_id() -> None:
    g.request_started = time.perf_counter()
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = supplied if SANE_REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex


def is_known_path(path: str) -> bool:
    return (
        path in OPEN_PATHS
        or path == API_PREFIX
        or path.startswith(f"{API_PREFIX}/")
        or path.startswith(STATIC_PREFIX)
    )


def reject_unknown_paths() -> None:
    if not is_known_path(request.path):
        raise NotFound()


def needs_api_key() -> bool:
    config = current_app.config
    if not config["API_KEYS"] or config["API_AUTH_DISABLED"]:
        return False
    if not request.path.startswith(f"{API_PREFIX}/") or request.path == SPEC_PATH:
        return False
    if request.method == "OPTIONS":
        return False  # CORS preflights never carry credentials
    return request.method not in READ_METHODS or config["API_READ_AUTH"]


def valid_api_key(supplied: str) -> bool:
    supplied_bytes = supplied.encode("utf-8", "replace")
    matched = False
    for key in current_app.config["API_KEYS"]:
        # Every key is compared, so timing does not reveal which one nearly matched.
        matched |= hmac.compare_digest(supplied_bytes, key.encode())
    return matched


def require_api_key():
    if not needs_api_key():
        return None
    supplied = request.headers.get(API_KEY_HEADER)
    if supplied and valid_api_key(supplied):
        return None
    detail = f"Send a valid API key in the {API_KEY_HEADER} header."
    if supplied:
        detail = f"The {API_KEY_HEADER} header does not hold a valid API key."
    log.warning("API key %s for %s %s", "rejected" if supplied else "missing", request.method, request.path)
    challenge = f'ApiKey realm="wdapi", header="{API_KEY_HEADER}"'
    return problem(401, detail, headers={"WWW-Authenticate": challenge})


def add_response_headers(response):
    if response.status_code == 204:
        response.headers.remove("Content-Type")  # no content, so no content type
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    if started is not None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
    return response
