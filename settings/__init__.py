"""Configuration classes and the loader that layers every source onto the app.

Order (later wins): config class chosen by ``APP_ENV`` -> Python file named by
``APP_SETTINGS`` -> plain environment overrides (``DATABASE_URL``, ``SECRET_KEY``,
``LOG_LEVEL``) -> ``APP_*`` prefixed environment variables -> the mapping
passed to ``create_app``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask
from sqlalchemy.engine import make_url

from settings import operations

DEFAULT_SECRET_KEY = "dev-only-secret-key-change-me"

# Plain environment variables that map onto a config key.
ENV_OVERRIDES = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "SECRET_KEY": "SECRET_KEY",
    "LOG_LEVEL": "LOG_LEVEL",
    # Redis (see README "Redis").
    **{name: name for name in ("REDIS_URL", "REDIS_PASSWORD", "REDIS_MAX_CONNECTIONS", "REDIS_KEY_PREFIX")},
    "CACHE_TTL": "CACHE_TTL",
    # Request pipeline and operations (parsed in ``settings.operations``).
    **{name: name for name in operations.ENV_NAMES},
    # RabbitMQ (see README "RabbitMQ"); RABBIT_* are the tutorial's names.
    **{name: name for name in ("AMQP_URL", "RABBIT_USER", "RABBIT_PASSWORD", "RABBIT_HOST", "RABBIT_PORT")},
    "WDTEST_EVENTS_EXCHANGE": "WDTEST_EVENTS_EXCHANGE",
}


class ConfigError(RuntimeError):
    """The configuration is unsafe or inconsistent; the app must not start."""


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    SECRET_KEY = DEFAULT_SECRET_KEY
    LOG_LEVEL = "INFO"

    # None means SQLite in the instance folder (resolved in ``database_uri``).
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ECHO = False
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Flask-SQLAlchemy 3 ignores SQLALCHEMY_POOL_*; these feed the engine options.
    DB_POOL_SIZE = 10
    DB_POOL_TIMEOUT = 10
    DB_MAX_OVERFLOW = 2
    DB_POOL_RECYCLE = 1800
    DB_POOL_PRE_PING = True
    DB_CONNECT_TIMEOUT = 3  # seconds; an unreachable MySQL fails fast with 503
    DB_READ_TIMEOUT = 10  # seconds a MySQL query may wait for the server

    MAX_CONTENT_LENGTH = 1024 * 1024
    JSON_SORT_KEYS = False

    RESTX_VALIDATE = False  # marshmallow validates; RESTX would reject nullables
    RESTX_MASK_SWAGGER = False
    RESTX_ERROR_404_HELP = False
    RESTX_INCLUDE_ALL_MODELS = True
    SWAGGER_UI_DOC_EXPANSION = "list"

    # Redis; see README "Redis". Timeouts well under a second: an outage costs milliseconds.
    REDIS_URL = "redis://127.0.0.1:6379/0"
    REDIS_PASSWORD: str | None = None  # used when REDIS_URL carries none
    REDIS_MAX_CONNECTIONS = 10  # per process (gunicorn worker)
    REDIS_CONNECT_TIMEOUT = 0.25  # seconds
    REDIS_SOCKET_TIMEOUT = 0.5  # seconds per command
    REDIS_POOL_TIMEOUT = 0.2  # seconds a thread waits for a free pooled connection
    REDIS_KEY_PREFIX = "wdapi:"
    REDIS_RETRY_INTERVAL = 1.0  # seconds the read cache skips Redis after a failure
    REDIS_WARN_INTERVAL = 60.0  # at most one outage warning per process per interval
    CACHE_TTL = 300  # seconds a cached record lives; 0 turns the read cache off

    # Request pipeline and operations; see README "Request pipeline and operations".
    API_KEYS: tuple[str, ...] = ()  # comma list; API_KEYS_FILE adds one key per line
    API_KEYS_FILE: str | None = None
    API_READ_AUTH = False  # reads need a key too
    API_AUTH_DISABLED = False  # the explicit opt-out production demands
    LOG_FORMAT = "text"  # or "json"
    LOG_FILE: str | None = None  # None: stderr only
    LOG_FILE_MAX_BYTES = 300 * 1024 * 1024
    LOG_FILE_BACKUPS = 10
    READY_REQUIRES: tuple[str, ...] = ("database",)
    READY_TIMEOUT = 2.0  # seconds per dependency check
    CORS_ORIGINS: tuple[str, ...] = ()
    TRUSTED_PROXIES = 0  # proxy hops whose X-Forwarded-* headers are believed
    # Concurrency; see README "Concurrency, versions and conditional requests".
    IDEMPOTENCY_TTL = 24 * 3600  # seconds a keyed request's first response is replayed
    REQUIRE_IF_MATCH = False  # writes to a record without If-Match get 428

    # RabbitMQ; see README "RabbitMQ". AMQP_URL wins; unset, it is built from RABBIT_*.
    AMQP_URL: str | None = None
    RABBIT_USER = "guest"
    RABBIT_PASSWORD = "guest"
    RABBIT_HOST = "127.0.0.1"
    RABBIT_PORT = 5672
    AMQP_HEARTBEAT = 60  # seconds; the broker may negotiate it lower
    AMQP_CONNECT_TIMEOUT = 1.5  # seconds for TCP + AMQP handshake: a down broker is a 503 in < 2 s
    AMQP_BLOCKED_TIMEOUT = 10  # seconds a connection may stay blocked by a broker resource alarm
    AMQP_OPERATION_TIMEOUT = 3  # seconds one broker operation may take before its connection is cut
    AMQP_PIKA_LOG_LEVEL = "CRITICAL"  # pika's own logger; the app logs broker failures itself
    WDTEST_EVENTS_EXCHANGE = "wdtest.events"  # durable topic exchange; routing key = event type
    OUTBOX_BATCH_SIZE = 100  # events the relay claims per transaction
    OUTBOX_POLL_INTERVAL = 1.0  # seconds the relay waits when nothing is pending


class DevelopmentConfig(Config):
    ENV_NAME = "dev"
    DEBUG = True
    SQLALCHEMY_ECHO = True


class ProductionConfig(Config):
    ENV_NAME = "prod"


class TestingConfig(Config):
    ENV_NAME = "test"
    TESTING = True


CONFIGS = {cls.ENV_NAME: cls for cls in (DevelopmentConfig, ProductionConfig, TestingConfig)}


def config_class(name: str | None = None) -> type[Config]:
    """Return the config class for ``name`` (default ``APP_ENV``, then ``dev``)."""
    name = name or os.environ.get("APP_ENV") or "dev"
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}; got {name!r}") from None


def load_config(app: Flask, config: str | type | Mapping | None = None) -> None:
    """Layer every configuration source onto ``app.config`` (see module docstring)."""
    overrides: Mapping = {}
    if isinstance(config, Mapping):
        overrides = config
        config = overrides.get("ENV_NAME")
    app.config.from_object(config if isinstance(config, type) else config_class(config))
    app.config.from_envvar("APP_SETTINGS", silent=not os.environ.get("APP_SETTINGS"))
    for env_name, key in ENV_OVERRIDES.items():
        if env_name in os.environ:
            app.config[key] = os.environ[env_name]
    app.config.from_prefixed_env("APP")
    app.config.update(overrides)

    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(app)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    try:
        operations.normalize(app.config)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    check_production(app.config)


def database_uri(app: Flask) -> str:
    """The database URL, with SQLite in the instance folder as the default and
    MySQL URLs forced onto PyMySQL with the 4-byte ``utf8mb4`` charset."""
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        os.makedirs(app.instance_path, exist_ok=True)
        return "sqlite:///" + os.path.join(app.instance_path, "wdapi.sqlite3")
    url = make_url(uri)
    if url.get_backend_name() == "mysql":
        # utf8 is MySQL's 3-byte subset: emoji would be rejected or mangled.
        url = url.set(drivername="mysql+pymysql").update_query_dict({"charset": "utf8mb4"})
        return url.render_as_string(hide_password=False)
    return uri


def engine_options(config: Mapping) -> dict:
    """SQLAlchemy engine options from the DB_POOL_* settings."""
    options = {"pool_pre_ping": config["DB_POOL_PRE_PING"]}
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    in_memory_sqlite = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if not in_memory_sqlite:
        options.update(
            pool_size=int(config["DB_POOL_SIZE"]),
            max_overflow=int(config["DB_MAX_OVERFLOW"]),
            pool_timeout=float(config["DB_POOL_TIMEOUT"]),
            pool_recycle=int(config["DB_POOL_RECYCLE"]),
        )
    if url.get_backend_name() == "mysql":
        timeout = int(config["DB_READ_TIMEOUT"])
        options["connect_args"] = {
            "connect_timeout": int(config["DB_CONNECT_TIMEOUT"]),
            "read_timeout": timeout,
            "write_timeout": timeout,
        }
    options.update(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    return options


def check_production(config: Mapping) -> None:
    """Refuse unsafe production settings."""
    if config.get("ENV_NAME") != "prod":
        return
    if config.get("DEBUG"):
        raise ConfigError("DEBUG must be off in production (APP_ENV=prod)")
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        raise ConfigError("set SECRET_KEY to a private random value in production (APP_ENV=prod)")
    if not config.get("API_KEYS") and not config.get("API_AUTH_DISABLED"):
        raise ConfigError(
            "set API_KEYS or API_KEYS_FILE in production (APP_ENV=prod),"
            " or API_AUTH_DISABLED=true to run without API-key auth"
        )
