"""One error format for the whole app: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException

from core.errors import DomainError
from extensions import database

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"


def problem(status: int, detail: str, *, title: str | None = None, headers=None, **extra):
    """Build a problem+json response."""
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        **extra,
    }
    response = current_app.json.response(body)
    response.status_code = status
    response.mimetype = PROBLEM_MIMETYPE
    if headers:
        response.headers.update(headers)
    return response


def http_problem(e: HTTPException):
    """A werkzeug HTTP error as problem+json, keeping headers such as ``Allow``."""
    headers = [(k, v) for k, v in e.get_headers() if k.lower() != "content-type"]
    return problem(e.code or 500, e.description or "", title=e.name, headers=headers)


def handle_http_exception(e: HTTPException):
    if e.code is None or e.code < 400 or e.response is not None:
        return e  # redirects (e.g. a missing trailing slash) and ready-made responses
    return http_problem(e)


def handle_domain_error(e: DomainError):
    return problem(e.status, e.detail, title=e.title, **e.extra)


def handle_database_unavailable(e: Exception):
    if not isinstance(e, database.CircuitOpen):  # the breaker logs its own transitions
        log.warning("database unavailable: %r", getattr(e, "orig", e))
    error = database.unavailable(e)
    headers = {"Retry-After": str(database.retry_after(e))}
    return problem(error.status, error.detail, title=error.title, headers=headers)


def handle_unexpected(e: Exception):
    # The traceback goes to the log, never to the client.
    log.exception("unhandled exception on %s %s", request.method, request.path)
    return problem(500, "An unexpected error occurred; it has been logged.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    for exc in database.CONNECTION_ERRORS:
        app.register_error_handler(exc, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
