"""Which operations need an API key, and whether they are rate limited, under the settings:
one rule each for the hooks (``api.pipeline.auth``, ``api.pipeline.ratelimit``) and for the documents'
padlocks, 401s and 429s (``api.contract.openapi``)."""

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


def rate_limit_applies(config: Mapping[str, Any]) -> bool:
    """Whether the operations under /api/v1 are rate limited (429) under these settings."""
    return bool(config["RATELIMIT_ENABLED"] and config["RATELIMIT_APPLICATION"])
