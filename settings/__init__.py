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

DEFAULT_SECRET_KEY = "dev-only-secret-key-change-me"

# Plain environment variables that map onto a config key.
ENV_OVERRIDES = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "SECRET_KEY": "SECRET_KEY",
    "LOG_LEVEL": "LOG_LEVEL",
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
