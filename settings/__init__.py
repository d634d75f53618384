"""Configuration: the config classes and the loader that layers and parses every source once.

Order (later wins): the declared defaults and the config class chosen by ``APP_ENV`` ->
the Python file named by ``APP_SETTINGS`` -> the environment (``KEY`` or ``APP_KEY``, see
``settings.declaration``) -> the mapping passed to ``create_app``. Every declared setting
is then parsed by its declared type, whichever layer set it; a bad value is a
``ConfigError`` naming the variable. The settings computed from others (``settings.derived``)
are computed last, here, so no extension rewrites one and nothing writes one to the environment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import flask
from environs import Env, EnvValidationError
from gunicorn.util import parse_address
from redis.connection import parse_url

from settings.declaration import CUSTOM_PARSERS, DEFAULT_SECRET_KEY, EMPTY_MEANS_DEFAULT, SETTINGS
from settings.derived import amqp_url, derive, is_loopback

__all__ = [
    "DEFAULT_SECRET_KEY",
    "ConfigError",
    "Config",
    "amqp_url",
    "load",
    "load_config",
    "defaults",
    "broker_login",
    "is_loopback",
    "or_refuse",
]

T = TypeVar("T")
# gunicorn's APP_LOAD_ERROR: its master halts instead of booting workers that refuse to
# start again and again (any other status, as sys.exit("...")'s 1, gets the worker replaced).
APP_LOAD_ERROR = 4


class ConfigError(RuntimeError):
    """The configuration is unsafe or inconsistent; the app must not start."""


def or_refuse(build: Callable[[], T]) -> T:
    """``build()``; on a ConfigError, a one-line refusal on stderr and exit APP_LOAD_ERROR."""
    try:
        return build()
    except ConfigError as err:
        print(f"wdapi: refusing to start: {err}", file=sys.stderr)
        sys.exit(APP_LOAD_ERROR)


class Config:
    """Framework constants every environment shares; declared settings default as declared."""

    TESTING = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    RESTX_VALIDATE = False  # marshmallow validates; RESTX would reject nullables
    RESTX_MASK_SWAGGER = False
    RESTX_ERROR_404_HELP = False
    RESTX_INCLUDE_ALL_MODELS = True
    SWAGGER_UI_DOC_EXPANSION = "list"


class DevelopmentConfig(Config):
    ENV_NAME = "dev"
    DEBUG = True
    SQLALCHEMY_ECHO = True
    API_READ_AUTH = False
    DEMOS_ENABLED = True


class ProductionConfig(Config):
    ENV_NAME = "prod"


class TestingConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    RATELIMIT_ENABLED = False  # tests that exercise the limits turn them on
    DB_CONNECTION_SLOTS = 0  # no cap, as tests always had; a test of the slots sets them
    API_READ_AUTH = False
    DEMOS_ENABLED = True


CONFIGS: dict[str, type[Config]] = {
    cls.ENV_NAME: cls for cls in (DevelopmentConfig, ProductionConfig, TestingConfig)
}


def defaults() -> dict[str, Any]:
    """Every declared setting at its declared default."""
    return {setting.key: setting.default for setting in SETTINGS}


def config_class(name: str | None = None, environ: Mapping[str, str] | None = None) -> type[Config]:
    """Return the config class for ``name`` (default ``APP_ENV``, then ``prod``: whatever
    serves without saying otherwise gets production's checks; the Makefile's dev targets say dev)."""
    name = name or (os.environ if environ is None else environ).get("APP_ENV") or "prod"
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}; got {name!r}") from None


class _LayeredEnv(Env):
    """environs' parsers, reading the merged layers (env names and keys) instead of os.environ."""

    def __init__(self, values: Mapping[str, Any]):
        super().__init__(eager=False)
        self._layers = values
        for name, field_class in CUSTOM_PARSERS.items():
            self.add_parser_from_field(name, field_class)

    def _get_value(self, env_key: str, default: Any) -> Any:
        return self._layers.get(env_key, default)


def parse(layers: Mapping[str, Any], environ: Mapping[str, str], overrides: Mapping[str, Any]) -> dict:
    """Every declared setting, parsed by its type from the last layer that sets it.
    Raises ConfigError naming every bad variable."""
    sources: dict[str, tuple[str, Any]] = {}
    for setting in SETTINGS:
        source = (setting.key, layers.get(setting.key, setting.default))
        if setting.key != "ENV_NAME":  # APP_ENV chose the config class already
            source = next(
                (
                    (name, environ[name])
                    for name in reversed(setting.env_names)
                    if environ.get(name, "") != ""
                    or (name in environ and setting.parser not in EMPTY_MEANS_DEFAULT)
                ),
                source,
            )
        if setting.key in overrides:
            source = (setting.key, overrides[setting.key])
        sources[setting.key] = source
    env = _LayeredEnv(dict(sources.values()))
    values = {
        setting.key: getattr(env, setting.parser)(
            sources[setting.key][0], validate=setting.validate, **setting.options
        )
        for setting in SETTINGS
    }
    try:
        env.seal()
    except EnvValidationError as err:
        raw = dict(sources.values())
        errors = err.error_messages if isinstance(err.error_messages, Mapping) else {}
        problems = [
            f"{name}={raw[name]!r}: {' '.join(map(str, messages))}" for name, messages in errors.items()
        ]
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
    return values


def load(
    config: str | type | Mapping | None = None,
    *,
    root_path: str | None = None,
    instance_path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The layered configuration (see module docstring), every declared setting parsed.
    ``instance_path`` holds the default SQLite database; unset, Flask's default for an app
    that is not an installed package: ``instance`` under ``root_path``. ``environ``: the
    environment to read (default ``os.environ``; ``{}``: the declared settings alone)."""
    environ = os.environ if environ is None else environ
    root_path = root_path or os.getcwd()
    overrides: Mapping = {}
    if isinstance(config, Mapping):
        overrides = config
        config = overrides.get("ENV_NAME")
    layers = flask.Config(root_path, defaults())
    layers.from_object(config if isinstance(config, type) else config_class(config, environ))
    if environ.get("APP_SETTINGS"):
        layers.from_pyfile(environ["APP_SETTINGS"])
    values = {**layers, **overrides, **parse(layers, environ, overrides)}
    values["API_KEYS"] = api_keys(values)
    values.update(derive(values, instance_path or os.path.join(root_path, "instance")))
    # Here rather than in the factory: gunicorn's master reads this too, and refuses
    # once, before it binds or forks a worker.
    check_production(values)
    return values


def load_config(
    app: flask.Flask,
    config: str | type | Mapping | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Put the layered, parsed configuration on ``app.config``; unsafe production is refused."""
    app.config.update(load(config, root_path=app.root_path, instance_path=app.instance_path, environ=environ))


def api_keys(values: Mapping[str, Any]) -> tuple[str, ...]:
    """API_KEYS plus the keys of API_KEYS_FILE (one per line; blanks and ``#`` comments skipped)."""
    keys = tuple(values["API_KEYS"])
    path = values["API_KEYS_FILE"]
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as err:
            raise ConfigError(f"API_KEYS_FILE {path!r} cannot be read: {err.strerror}") from None
        keys += tuple(s for s in (line.strip() for line in lines) if s and not s.startswith("#"))
    if any(not k.isascii() or not k.isprintable() or " " in k for k in keys):
        raise ConfigError("API keys must be printable ASCII without spaces")
    return tuple(dict.fromkeys(keys))


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
    check_broker_credentials(config)
    check_redis_password(config)
    check_proxy_bind(config)


def check_broker_credentials(config: Mapping) -> None:
    """RabbitMQ's ``guest`` account is refused for a broker on another host: it is the
    account every installation has (and RabbitMQ lets it in over loopback only)."""
    if config.get("AMQP_URLS"):
        urls, variable = list(config["AMQP_URLS"]), "AMQP_URLS"
    else:
        url = amqp_url(config)
        # The loader resolved AMQP_URL already: name the setting the operator wrote.
        variable = "RABBIT_USER" if url == amqp_url({**config, "AMQP_URL": None}) else "AMQP_URL"
        urls = [url] if url else []
    for url in urls:
        try:
            user, host = broker_login(url)
        except ValueError as err:
            raise ConfigError(f"{variable}: not an AMQP URL: {err}") from None
        if user == "guest" and not is_loopback(host):
            raise ConfigError(
                f"{variable} logs in to RabbitMQ at {host!r} as guest in production"
                " (APP_ENV=prod): give the app a user of its own (RABBIT_USER and RABBIT_PASSWORD,"
                " or AMQP_URL / AMQP_URLS)"
            )


def broker_login(url: str) -> tuple[str, str]:
    """The user and host pika logs in with at ``url``; ValueError for a URL pika refuses.
    urllib reads them as pika's ``URLParameters`` does (tests/unit/test_production_refusals.py
    holds the two equal): pika is 2 MiB a worker loads on its first AMQP call, not at start,
    so only a URL with options, which only pika knows, has pika check it here."""
    if urlsplit(url).query:
        import pika

        params = pika.URLParameters(url)
        return params.credentials.username, params.host
    # pika's own reading: amqp(s) as http(s), its defaults guest and localhost.
    parts = urlsplit("http" + url[4:] if url[:4].lower() == "amqp" else url)
    if parts.scheme not in ("http", "https", ""):
        raise ValueError(f"unexpected URL scheme {parts.scheme!r}; supported scheme values: amqp, amqps")
    _ = parts.port  # a port that is not a number or out of range: ValueError, as in pika
    if parts.username is None:
        return "guest", parts.hostname or "localhost"
    if parts.password is None:
        raise ValueError("a user without a password")  # pika fails on it with a TypeError
    return unquote(parts.username), parts.hostname or "localhost"


def check_redis_password(config: Mapping) -> None:
    """A Redis on another host without a password is open to anyone who reaches it."""
    if config.get("REDIS_PASSWORD"):
        return
    remote = [a for a in config.get("REDIS_SENTINELS") or () if not is_loopback(a.rpartition(":")[0])]
    if remote:
        raise ConfigError(
            f"REDIS_SENTINELS names Redis on {remote[0]!r} without a password in production"
            " (APP_ENV=prod): set REDIS_PASSWORD"
        )
    url = config.get("REDIS_URL")
    if not url or config.get("REDIS_SENTINELS"):
        return
    try:
        options = parse_url(url)
    except ValueError:
        return  # extensions.redis_store refuses it, naming REDIS_URL
    if "path" in options:
        return  # a Unix socket: this machine only
    host = options.get("host") or "localhost"  # redis-py's default
    if not options.get("password") and not is_loopback(host):
        raise ConfigError(
            f"REDIS_URL points at Redis on {host!r} without a password in production (APP_ENV=prod):"
            " set REDIS_PASSWORD (or put it in REDIS_URL)"
        )


def check_proxy_bind(config: Mapping) -> None:
    """TRUSTED_PROXIES believes X-Forwarded-For; a client that reaches gunicorn directly
    would write that header itself (its address, hence its rate-limit bucket)."""
    if not config.get("TRUSTED_PROXIES") or config.get("BIND_PROXY_ONLY"):
        return
    for address in config.get("BIND") or ():
        try:
            parsed = parse_address(address)
        except RuntimeError:
            parsed = None  # gunicorn refuses it itself
        if isinstance(parsed, str):
            continue  # a Unix socket: reached by whoever may open the file
        host = parsed[0] if isinstance(parsed, tuple) else None  # fd://: unknown
        if not is_loopback(host):
            raise ConfigError(
                f"TRUSTED_PROXIES={config['TRUSTED_PROXIES']} with BIND={address!r} in production"
                " (APP_ENV=prod): a client reaching gunicorn directly can forge X-Forwarded-For;"
                " bind to loopback behind the proxy, or set BIND_PROXY_ONLY=true if only the proxy"
                " can reach that address"
            )
