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

import flask
from environs import Env, EnvValidationError

from settings.declaration import CUSTOM_PARSERS, DEFAULT_SECRET_KEY, EMPTY_MEANS_DEFAULT, SETTINGS
from settings.derived import derive

__all__ = ["DEFAULT_SECRET_KEY", "ConfigError", "Config", "load", "load_config", "defaults", "or_refuse"]

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


def config_class(name: str | None = None) -> type[Config]:
    """Return the config class for ``name`` (default ``APP_ENV``, then ``dev``)."""
    name = name or os.environ.get("APP_ENV") or "dev"
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
) -> dict[str, Any]:
    """The layered configuration (see module docstring), every declared setting parsed.
    ``instance_path`` holds the default SQLite database; unset, Flask's default for an app
    that is not an installed package: ``instance`` under ``root_path``."""
    root_path = root_path or os.getcwd()
    overrides: Mapping = {}
    if isinstance(config, Mapping):
        overrides = config
        config = overrides.get("ENV_NAME")
    layers = flask.Config(root_path, defaults())
    layers.from_object(config if isinstance(config, type) else config_class(config))
    layers.from_envvar("APP_SETTINGS", silent=not os.environ.get("APP_SETTINGS"))
    values = {**layers, **overrides, **parse(layers, os.environ, overrides)}
    values["API_KEYS"] = api_keys(values)
    values.update(derive(values, instance_path or os.path.join(root_path, "instance")))
    return values


def load_config(app: flask.Flask, config: str | type | Mapping | None = None) -> None:
    """Put the layered, parsed configuration on ``app.config`` and refuse unsafe production."""
    app.config.update(load(config, root_path=app.root_path, instance_path=app.instance_path))
    check_production(app.config)


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
