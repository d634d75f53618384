"""gunicorn's own rejections as problem+json, like every other error the API answers.

Fault: a request gunicorn refuses before the app sees it (414 request line, 431 headers,
400 bad header...) gets gunicorn's text/html page; a client that parses problem+json on
every error would choke on it. Every worker class writes these with the one function
``gunicorn.util.write_error`` (gunicorn/workers/base.py): ``install`` replaces it in the
worker. Proved by tests/e2e/test_gunicorn_edges.py::test_gunicorn_rejections_are_problem_json.
"""

from __future__ import annotations

import json

from gunicorn import util


def write_problem(sock, status_int, reason, mesg):
    """``util.write_error``'s signature. There is no request path or request id yet: the
    request never reached the app."""
    problem = {"type": "about:blank", "title": reason, "status": status_int, "detail": mesg or reason}
    body = json.dumps(problem, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    """In a worker (post_worker_init): gunicorn's rejections written by ``write_problem``."""
    util.write_error = write_problem
