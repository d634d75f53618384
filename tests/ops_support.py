"""Helpers for the operations tests: ports on loopback and problem assertions."""

from __future__ import annotations

import socket


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port() -> int:
    return dead_port()


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert response.headers.get("X-Request-ID")
    return body


def write_log_lines(filename: str, writer: int, count: int, max_bytes: int, backups: int) -> None:
    """Run in a child process: ``count`` numbered lines through the app's rotating file handler."""
    import logging

    from settings.logs import make_handler

    logger = logging.getLogger(f"rotation-test-{writer}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = make_handler("text", filename, max_bytes, backups)
    logger.addHandler(handler)
    for seq in range(count):
        logger.info("writer=%d seq=%05d %s end", writer, seq, "x" * 80)
    handler.close()
