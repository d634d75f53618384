"""Parse and check the request-pipeline and operations settings.

Environment variables arrive as strings; this turns them into the types the
app reads (lists, booleans, numbers) and rejects nonsense with ``ValueError``,
which ``settings.load_config`` reports as a ``ConfigError``.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

# Plain environment variables read under their own name (``settings.ENV_OVERRIDES``).
ENV_NAMES = (
    "API_KEYS API_KEYS_FILE API_READ_AUTH API_AUTH_DISABLED"
    " LOG_FORMAT LOG_FILE LOG_FILE_MAX_BYTES LOG_FILE_BACKUPS"
    " READY_REQUIRES READY_TIMEOUT CORS_ORIGINS TRUSTED_PROXIES"
    " IDEMPOTENCY_TTL REQUIRE_IF_MATCH"
).split()
READY_DEPENDENCIES = ("database", "redis", "rabbitmq")
LOG_FORMATS = ("text", "json")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def as_bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"{name} must be true or false; got {value!r}")


def as_int(name: str, value, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer; got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {number}")
    return number


def as_list(value) -> tuple[str, ...]:
    """A comma-separated string or an iterable, as a tuple of non-empty stripped items."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(s for s in (str(item).strip() for item in items) if s)


def read_keys_file(path: str) -> tuple[str, ...]:
    """One key per line; blank lines and ``#`` comments are skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise ValueError(f"API_KEYS_FILE {path!r} cannot be read: {err.strerror}") from None
    return tuple(s for s in (line.strip() for line in lines) if s and not s.startswith("#"))


def normalize(config: MutableMapping) -> None:
    """Convert the operations settings in place; raise ``ValueError`` when one is invalid."""
    keys = as_list(config.get("API_KEYS"))
    if config.get("API_KEYS_FILE"):
        keys += read_keys_file(config["API_KEYS_FILE"])
    bad = [k for k in keys if not k.isascii() or not k.isprintable() or " " in k]
    if bad:
        raise ValueError("API keys must be printable ASCII without spaces")
    config["API_KEYS"] = tuple(dict.fromkeys(keys))
    for name in ("API_READ_AUTH", "API_AUTH_DISABLED"):
        config[name] = as_bool(name, config.get(name, False))

    level = str(config.get("LOG_LEVEL", "INFO")).strip().upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL; got {level!r}")
    config["LOG_LEVEL"] = level
    log_format = str(config.get("LOG_FORMAT", "text")).strip().lower()
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}; got {log_format!r}")
    config["LOG_FORMAT"] = log_format
    config["LOG_FILE"] = str(config.get("LOG_FILE") or "").strip() or None
    config["LOG_FILE_MAX_BYTES"] = as_int("LOG_FILE_MAX_BYTES", config["LOG_FILE_MAX_BYTES"], 1024)
    config["LOG_FILE_BACKUPS"] = as_int("LOG_FILE_BACKUPS", config["LOG_FILE_BACKUPS"], 1)

    required = as_list(config.get("READY_REQUIRES"))
    unknown = set(required) - set(READY_DEPENDENCIES)
    if unknown:
        raise ValueError(f"READY_REQUIRES may list {', '.join(READY_DEPENDENCIES)}; got {sorted(unknown)}")
    config["READY_REQUIRES"] = required
    try:
        config["READY_TIMEOUT"] = float(config["READY_TIMEOUT"])
    except (TypeError, ValueError):
        raise ValueError(f"READY_TIMEOUT must be seconds; got {config['READY_TIMEOUT']!r}") from None
    if not 0 < config["READY_TIMEOUT"] <= 30:
        raise ValueError("READY_TIMEOUT must be between 0 and 30 seconds")

    config["CORS_ORIGINS"] = as_list(config.get("CORS_ORIGINS"))
    config["TRUSTED_PROXIES"] = as_int("TRUSTED_PROXIES", config.get("TRUSTED_PROXIES") or 0)
    config["IDEMPOTENCY_TTL"] = as_int("IDEMPOTENCY_TTL", config["IDEMPOTENCY_TTL"], 1)
    config["REQUIRE_IF_MATCH"] = as_bool("REQUIRE_IF_MATCH", config["REQUIRE_IF_MATCH"])
