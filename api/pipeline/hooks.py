"""Request hooks: the request id, UTF-8 input, the check that a path is served at all, and timing headers."""

from __future__ import annotations

import os
import re
import time
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from werkzeug.exceptions import BadRequest, NotFound

from core.context import g_object, request_object
from core.paths import API_PREFIX

REQUEST_ID_HEADER = "X-Request-ID"
# Routes an app gets without asking: Flask's /static and Flask-RESTX's root; not served.
HIDDEN_ENDPOINTS = {"static", "root"}
# Visible ASCII only: a client's id lands in logs and headers verbatim.
SANE_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


def register_request_hooks(app: Flask) -> None:
    """Hooks run in this order; ``after_request`` also runs for error responses."""
    app.before_request(assign_request_id)
    app.before_request(reject_invalid_utf8)
    app.before_request(reject_unknown_paths)
    app.after_request(add_response_headers)


def assign_request_id() -> None:
    ctx = g_object()
    ctx.request_started = time.perf_counter()
    supplied = request_object().headers.get(REQUEST_ID_HEADER, "")
    # 32 random hex digits, as nginx's $request_id (uuid4().hex cost twice as much).
    ctx.request_id = supplied if SANE_REQUEST_ID.fullmatch(supplied) else os.urandom(16).hex()


def reject_invalid_utf8() -> None:
    # werkzeug decodes the URL with errors="replace": "alias%FF" and "alias%FE" would both
    # become "alias\ufffd", one key. The WSGI environ holds the raw bytes (as latin-1).
    environ = request_object().environ
    try:
        environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadRequest("The request path is not valid percent-encoded UTF-8.") from None
    try:
        unquote_to_bytes(environ.get("QUERY_STRING", "").encode("latin-1")).decode("utf-8")
    except UnicodeError:
        raise BadRequest("The query string is not valid percent-encoded UTF-8.") from None


def is_known_path(path: str) -> bool:
    """Under the API prefix (auth answers before the router's 404), or a registered route."""
    if path == API_PREFIX or path.startswith(f"{API_PREFIX}/"):
        return True
    if request.url_rule is None:  # a 405 or a redirect: the path is routed, for another method or form
        return not isinstance(request.routing_exception, NotFound)
    return request.url_rule.endpoint not in HIDDEN_ENDPOINTS


def reject_unknown_paths() -> None:
    if not is_known_path(request_object().path):
        raise NotFound()


def add_response_headers(response):
    if response.status_code == 204:
        response.headers.remove("Content-Type")  # no content, so no content type
    ctx = g_object()
    request_id = ctx.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = ctx.get("request_started")
    if started is not None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
    return response
