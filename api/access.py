"""Which operations need an API key under the settings: one rule for the auth hook
(``api.auth``) and for the documents' padlocks and 401s (``api.openapi``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_KEY_HEADER = "X-API-Key"
READ_METHODS = {"GET", "HEAD"}


def auth_applies(config: Mapping[str, Any], method: str) -> bool:
    """Whether an operation with this method needs a key under these settings."""
    if not config["API_KEYS"] or config["API_AUTH_DISABLED"]:
        return False
    if method == "OPTIONS":
        return False  # CORS preflights never carry credentials
    return method not in READ_METHODS or config["API_READ_AUTH"]
