"""A client for live servers (werkzeug threads, gunicorn): one request per connection."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass


@dataclass
class LiveResponse:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def request(
    port: int, method: str, path: str, body=None, headers: dict | None = None, timeout: float = 15.0
) -> LiveResponse:
    """One request on its own connection: keep-alive would pin it to one worker."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = {"Connection": "close", **(headers or {})}
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=sent)
        response = conn.getresponse()
        return LiveResponse(response.status, response.headers, response.read())
    finally:
        conn.close()
