"""The one check of a problem+json error response (RFC 9457) from the test client."""

from __future__ import annotations

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, *fields: str) -> dict:
    """``response`` is a problem with ``status``; each of ``fields`` is named in its ``errors``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys(), body
    assert body["status"] == status and body["title"] and body["detail"]
    assert response.headers.get("X-Request-ID")
    for field in fields:
        assert field in body["errors"], body
    return body
