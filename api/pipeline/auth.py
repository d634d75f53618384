"""API-key auth: writes under the API prefix (and reads, with API_READ_AUTH) need ``X-API-Key``."""

from __future__ import annotations

import hmac
import logging

from flask import Flask, request

from api.contract.errors import problem
from api.pipeline.access import API_KEY_HEADER, auth_applies
from core.context import app_object, g_object, request_object
from core.paths import is_api_operation

log = logging.getLogger(__name__)
UNCHECKED = object()  # g.api_key_checked before the first check (None: no valid key)


def register_auth(app: Flask) -> None:
    """Runs after the request hooks' id and path check (``api.pipeline.hooks``)."""
    app.before_request(require_api_key)


def needs_api_key() -> bool:
    req = request_object()
    return is_api_operation(req.path) and auth_applies(app_object().config, req.method)


def valid_api_key(supplied: str) -> bool:
    supplied_bytes = supplied.encode("utf-8", "replace")
    matched = False
    for key in app_object().config["API_KEYS"]:
        # Every key is compared, so timing does not reveal which one nearly matched.
        matched |= hmac.compare_digest(supplied_bytes, key.encode())
    return matched


def request_api_key() -> str | None:
    """The request's API key if it is a valid one; checked once per request (the rate
    limiter asks first, then auth)."""
    ctx = g_object()
    checked = ctx.get("api_key_checked", UNCHECKED)
    if checked is UNCHECKED:
        supplied = request_object().headers.get(API_KEY_HEADER)
        checked = ctx.api_key_checked = supplied if supplied and valid_api_key(supplied) else None
    return checked


def require_api_key():
    if not needs_api_key():
        return None
    key = request_api_key()
    if key is not None:
        g_object().api_key = key  # the caller, for what is kept per caller (Idempotency-Key)
        return None
    supplied = request.headers.get(API_KEY_HEADER)
    detail = f"Send a valid API key in the {API_KEY_HEADER} header."
    if supplied:
        detail = f"The {API_KEY_HEADER} header does not hold a valid API key."
    log.warning("API key %s for %s %s", "rejected" if supplied else "missing", request.method, request.path)
    challenge = f'ApiKey realm="wdapi", header="{API_KEY_HEADER}"'
    return problem(401, detail, headers={"WWW-Authenticate": challenge})
