"""Skip a test whose server is missing, or fail it when the CI demands every service."""

from __future__ import annotations

import os

import pytest

from tests.helpers.ports import reachable

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def need(reason: str):
    """Skip with ``reason``, or fail when the CI demands every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def require_port(host: str, port: int, what: str) -> None:
    if not reachable(host, port):
        need(f"{what} at {host}:{port} is not reachable")
