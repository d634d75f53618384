"""Every setting the app, the outbox relay and gunicorn read: its type, default and env names.

One rule for environment names: setting ``KEY`` is read from ``KEY`` and from ``APP_KEY``
(the latter wins when both are set); a few settings also have an alias (``DATABASE_URL``).
Values are parsed by environs' marshmallow fields, whatever layer they come from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from limits import parse_many
from marshmallow import ValidationError, fields
from marshmallow.validate import ContainsOnly, OneOf, Range

DEFAULT_SECRET_KEY = "dev-only-secret-key-change-me"
ENV_PREFIX = "APP_"
READY_DEPENDENCIES = ("database", "redis", "rabbitmq")
QUEUE_TYPES = ("classic", "quorum")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Names(fields.Field):
    """A comma-separated string or a sequence, as a tuple of non-empty stripped items."""

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[str, ...]:
        if isinstance(value, str):
            value = value.split(",")
        elif not isinstance(value, list | tuple):
            raise ValidationError("Not a comma-separated list.")
        return tuple(s for s in (str(item).strip() for item in value) if s)


class Level(fields.String):
    """A logging level name, upper-cased."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        level = super()._deserialize(value, attr, data, **kwargs).strip().upper()
        if level not in LOG_LEVELS:
            raise ValidationError(f"Must be one of {', '.join(LOG_LEVELS)}.")
        return level


class Choice(fields.String):
    """A lower-cased string from ``validate``'s choices."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip().lower()


class OptionalText(fields.Field):
    """A string where empty (or only blanks) means unset: None."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str | None:
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        return value.strip() or None


class Flag(fields.Boolean):
    """true/false, on/off, yes/no, 1/0."""

    default_error_messages = {"invalid": "Must be true or false."}


# An empty environment variable leaves a number or flag at its default (as gunicorn.conf.py always did).
EMPTY_MEANS_DEFAULT = {"int", "float", "flag"}

# environs parser name -> marshmallow field class, beside environs' own (int, float, str, json).
CUSTOM_PARSERS: dict[str, type[fields.Field]] = {
    "flag": Flag,
    "names": Names,
    "level": Level,
    "choice": Choice,
    "optional": OptionalText,
}


@dataclass(frozen=True)
class Setting:
    key: str
    parser: str  # an environs parser: int, float, str, json, or one of CUSTOM_PARSERS
    default: Any
    help: str
    aliases: tuple[str, ...] = ()  # extra env names, read before KEY and APP_KEY
    validate: Any = None
    options: dict[str, Any] = field(default_factory=dict)  # more marshmallow field arguments

    @property
    def env_names(self) -> tuple[str, ...]:
        """Env names in the order read: a later one that is set wins."""
        return (*self.aliases, self.key, ENV_PREFIX + self.key)


def _min(value: float) -> Range:
    return Range(min=value)


def _above(value: float) -> Range:
    return Range(min=value, min_inclusive=False)


def _host_ports(value: tuple[str, ...]) -> None:
    for item in value:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValidationError(f"{item!r} is not host:port.")


def _rate_limits(value: str) -> None:
    """limits' syntax: ``600 per minute``, several separated by ``;``; empty: no limit."""
    try:
        if value.strip():
            parse_many(value)
    except ValueError as err:
        raise ValidationError(f"Not a rate limit such as '600 per minute': {err}") from None


SETTINGS: tuple[Setting, ...] = (
    # The app and its database; README "Configuration".
    Setting("ENV_NAME", "choice", "prod", "which config class: dev, prod, test; unset: prod", ("APP_ENV",),
            OneOf(("dev", "prod", "test"))),
    Setting("SECRET_KEY", "str", DEFAULT_SECRET_KEY, "must be set in production"),
    Setting("DEBUG", "flag", False, "on in dev only; must be off in production"),
    Setting("SQLALCHEMY_DATABASE_URI", "optional", None, "the database", ("DATABASE_URL",)),
    Setting("SQLALCHEMY_ECHO", "flag", False, "log every SQL statement (on in dev)"),
    Setting("SQLALCHEMY_ENGINE_OPTIONS", "json", {}, "extra engine options (JSON), applied last"),
    Setting("DB_POOL_SIZE", "int", 10, "connections kept per process and pool (writes', reads')",
            validate=_min(0)),
    Setting("DB_MAX_OVERFLOW", "int", 2, "extra connections beyond the pool", validate=_min(0)),
    Setting("DB_POOL_TIMEOUT", "float", 10.0, "seconds to wait for a free connection", validate=_min(0)),
    Setting("DB_POOL_RECYCLE", "int", 1800, "seconds after which a connection is replaced"),
    Setting("DB_POOL_PRE_PING", "flag", False, "test a write transaction's connection before use"
            " (off: a dead one fails the first statement and the transaction runs again; reads never ping)"),
    Setting("DB_CONNECT_TIMEOUT", "int", 1, "MySQL connect timeout in seconds", validate=_min(1)),
    Setting("DB_READ_TIMEOUT", "int", 3, "MySQL read/write timeout in seconds (writes)", validate=_min(1)),
    Setting("DB_FAIL_FAST", "float", 1.0, "a read's MySQL read timeout (without DB_SYNC_WAIT), the writes'"
            " pre-ping timeout, a new connection's handshake timeout; a checkout stuck longer: failing",
            validate=_above(0)),
    Setting("DB_BREAKER_THRESHOLD", "int", 2, "consecutive connection failures that open the breaker",
            validate=_min(1)),
    Setting("DB_CONNECTION_SLOTS", "int", None, "connections held at once per process, both pools; 0: no cap;"
            " unset: GUNICORN_THREADS - 1", validate=_min(0), options={"allow_none": True}),
    Setting("DB_SYNC_WAIT", "int", 0, "Galera wsrep_sync_wait on the read engine's connections (every"
            " read sees every acknowledged commit, within DB_READ_TIMEOUT); 0: off", validate=Range(0, 15)),
    Setting("DB_BREAKER_RESET", "float", 2.0, "seconds the open breaker refuses before a probe",
            validate=_above(0)),
    Setting("MAX_CONTENT_LENGTH", "int", 1024 * 1024, "larger request bodies get 413", validate=_min(1)),
    # Redis; README "Redis". Timeouts well under a second: an outage costs milliseconds.
    Setting("REDIS_URL", "str", "redis://127.0.0.1:6379/0", "server and db number; empty: no Redis"),
    Setting("REDIS_PASSWORD", "optional", None, "password, used when REDIS_URL carries none;"
            " production needs one for a non-loopback host"),
    Setting("REDIS_MAX_CONNECTIONS", "int", 10, "connections per process", validate=_min(1)),
    Setting("REDIS_CONNECT_TIMEOUT", "float", 0.25, "seconds to open a connection", validate=_min(0.001)),
    Setting("REDIS_SOCKET_TIMEOUT", "float", 0.5, "seconds a command may wait", validate=_min(0.001)),
    Setting("REDIS_POOL_TIMEOUT", "float", 0.2, "seconds to wait for a pooled connection", validate=_min(0)),
    Setting("REDIS_KEY_PREFIX", "str", "wdapi:", "prefix of every key the app reads or writes"),
    Setting("REDIS_RETRY_INTERVAL", "float", 1.0, "seconds the cache skips Redis after a failure"
            " (writes: after a slow one only)", validate=_min(0)),
    Setting("REDIS_WARN_INTERVAL", "float", 60.0, "at most one outage warning per interval",
            validate=_min(0)),
    Setting("REDIS_SENTINELS", "names", (), "comma-separated sentinel host:port; set: used instead of"
            " REDIS_URL", validate=_host_ports),
    Setting("REDIS_SENTINEL_MASTER", "str", "mymaster", "the master name the sentinels monitor"),
    Setting("REDIS_WAIT_REPLICAS", "int", 0, "replicas an idempotency record or key-value write must reach"
            " (WAIT); 0: none", validate=_min(0)),
    Setting("REDIS_WAIT_TIMEOUT", "float", 0.1, "seconds WAIT may block; below REDIS_SOCKET_TIMEOUT",
            validate=_above(0)),
    Setting("CACHE_TTL", "int", 300, "seconds a cached record lives; 0: no read cache", validate=_min(0)),
    # Request pipeline and operations; README "Request pipeline and operations".
    Setting("API_KEYS", "names", (), "comma-separated API keys; any key turns auth on"),
    Setting("API_KEYS_FILE", "optional", None, "a file with one key per line, added to API_KEYS"),
    Setting("API_READ_AUTH", "flag", True, "GET/HEAD need a key too (off in dev and test)"),
    Setting("API_AUTH_DISABLED", "flag", False, "no key is checked, even if keys are set"),
    Setting("LOG_LEVEL", "level", "INFO", "root log level, app and gunicorn alike"),
    Setting("LOG_FORMAT", "choice", "text", "text or json", validate=OneOf(("text", "json"))),
    Setting("LOG_FILE", "optional", None, "also write to this size-rotated file"),
    Setting("LOG_FILE_MAX_BYTES", "int", 300 * 1024 * 1024, "rotate past this size", validate=_min(1024)),
    Setting("LOG_FILE_BACKUPS", "int", 10, "rotated files kept", validate=_min(1)),
    Setting("READY_REQUIRES", "names", ("database",), "dependencies /readyz needs",
            validate=ContainsOnly(READY_DEPENDENCIES)),
    Setting("READY_TIMEOUT", "float", 2.0, "seconds each readiness probe may take",
            validate=Range(0, 30, min_inclusive=False)),
    Setting("DEMOS_ENABLED", "flag", False, "mount /demo and /exceptions (on in dev and test)"),
    Setting("CORS_ORIGINS", "names", (), "browser origins allowed to call /api/v1"),
    Setting("RATELIMIT_ENABLED", "flag", True, "limit /api/v1 requests per API key, else per address"),
    Setting("RATELIMIT_APPLICATION", "str", "600 per minute", "each caller's budget across /api/v1",
            validate=_rate_limits),
    Setting("RATELIMIT_SYNC_INTERVAL", "float", 0.2, "seconds between a process's syncs of its counts"
            " with Redis (docs/operations.md \"Limits\"); 0: a Redis round trip per request",
            validate=Range(0, 10)),
    Setting("TRUSTED_PROXIES", "int", 0, "proxy hops whose X-Forwarded-* are believed; production"
            " refuses it with a non-loopback BIND", validate=_min(0)),
    Setting("BIND_PROXY_ONLY", "flag", False, "only the proxy can reach BIND: lets production run"
            " TRUSTED_PROXIES on a non-loopback BIND"),
    # Concurrency; README "Concurrency, versions and conditional requests".
    Setting("IDEMPOTENCY_TTL", "int", 24 * 3600, "seconds a keyed request's first response is replayed",
            validate=_min(1)),
    Setting("REQUIRE_IF_MATCH", "flag", False, "PUT/PATCH/DELETE of a record without If-Match get 428"),
    # RabbitMQ; README "RabbitMQ". AMQP_URL wins; unset, it is built from RABBIT_*.
    Setting("AMQP_URL", "optional", None, "broker URL; wins over RABBIT_*; production refuses guest"
            " for a non-loopback broker"),
    Setting("RABBIT_USER", "str", "guest", "user, when AMQP_URL is unset; production refuses guest"
            " for a non-loopback RABBIT_HOST"),
    Setting("AMQP_URLS", "names", (), "comma-separated cluster node URLs, tried in turn; wins over AMQP_URL"),
    Setting("RABBIT_PASSWORD", "str", "guest", "password, when AMQP_URL is unset"),
    Setting("RABBIT_HOST", "str", "127.0.0.1", "host, when AMQP_URL is unset; empty: no RabbitMQ"),
    Setting("RABBIT_PORT", "int", 5672, "port, when AMQP_URL is unset", validate=Range(1, 65535)),
    Setting("AMQP_HEARTBEAT", "int", 60, "heartbeat seconds", validate=_min(0)),
    Setting("AMQP_CONNECT_TIMEOUT", "float", 1.5, "seconds for TCP + AMQP handshake", validate=_above(0)),
    Setting("AMQP_BLOCKED_TIMEOUT", "float", 10.0, "seconds a connection may stay blocked",
            validate=_above(0)),
    Setting("AMQP_OPERATION_TIMEOUT", "float", 3.0, "seconds one broker operation may take",
            validate=_above(0)),
    Setting("AMQP_PIKA_LOG_LEVEL", "level", "CRITICAL", "level of pika's own logger"),
    Setting("WDTEST_EVENTS_EXCHANGE", "str", "wdtest.events", "topic exchange the events go to"),
    Setting("WDTEST_EVENTS_QUEUE", "optional", None, "a queue the relay declares and binds to every event"),
    Setting("WDTEST_EVENTS_QUEUE_TYPE", "choice", "classic", "classic or quorum (replicated; for clusters)",
            validate=OneOf(QUEUE_TYPES)),
    Setting("OUTBOX_BATCH_SIZE", "int", 100, "events the relay claims per transaction",
            validate=Range(1, 1000)),
    Setting("OUTBOX_POLL_INTERVAL", "float", 1.0, "seconds the relay waits when idle",
            validate=Range(0.01, 60)),
    # gunicorn.conf.py; README "gunicorn".
    Setting("BIND", "names", ("127.0.0.1:8000",), "addresses gunicorn listens on"),
    Setting("WEB_CONCURRENCY", "int", None, "workers; unset: one per core", validate=_min(1),
            options={"allow_none": True}),
    Setting("GUNICORN_WORKER_CLASS", "str", "gthread", "worker class"),
    Setting("GUNICORN_THREADS", "int", 4, "threads per worker", validate=_min(1)),
    Setting("GUNICORN_BACKLOG", "int", 2048, "pending connections", validate=_min(1)),
    Setting("GUNICORN_MAX_REQUESTS", "int", 0, "recycle a worker after this many requests",
            validate=_min(0)),
    Setting("GUNICORN_MAX_REQUESTS_JITTER", "int", 0, "random extra requests before recycling",
            validate=_min(0)),
    Setting("GUNICORN_TIMEOUT", "int", 30, "seconds before a silent worker is killed", validate=_min(0)),
    Setting("GUNICORN_GRACEFUL_TIMEOUT", "int", 30, "seconds in-flight requests get to finish",
            validate=_min(0)),
    Setting("GUNICORN_KEEPALIVE", "int", 5, "seconds an idle keep-alive connection stays open",
            validate=_min(0)),
    Setting("GUNICORN_DRAIN_DELAY", "float", 0.0, "seconds SIGTERM drains before stopping (5 behind nginx)",
            validate=Range(min=0, max=60)),
    Setting("GUNICORN_LIMIT_REQUEST_LINE", "int", 4094, "longest request line", validate=_min(0)),
    Setting("GUNICORN_LIMIT_REQUEST_FIELDS", "int", 100, "most header fields", validate=_min(0)),
    Setting("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", "int", 8190, "largest header field", validate=_min(0)),
    Setting("GUNICORN_PIDFILE", "optional", None, "pid file"),
    Setting("GUNICORN_CONTROL_SOCKET", "optional", None, "gunicornc's socket: a path, or off"),
    Setting("PROMETHEUS_MULTIPROC_DIR", "optional", None,
            "metrics files shared by gunicorn's workers and the relay; unset: a temporary one"),
    Setting("GUNICORN_ACCESSLOG", "flag", True, "access lines on or off"),
)  # fmt: skip

BY_KEY = {setting.key: setting for setting in SETTINGS}
