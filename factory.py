"""The application factory: a table of contents of the app's parts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from inspect import iscoroutinefunction
from types import FunctionType
from typing import Any

import click
from flask import Flask

from api import init_api
from api.contract.converters import register_converters
from api.contract.errors import register_error_handlers
from api.contract.parsing import APIRequest
from api.contract.responses import RESTX_JSON, JSONProvider, JSONResponse
from api.pipeline.auth import register_auth
from api.pipeline.hooks import register_request_hooks
from api.pipeline.metrics import register_metrics
from api.pipeline.middleware import init_cors, init_proxy_fix
from api.pipeline.ratelimit import init_rate_limits
from api.pipeline.sessions import disable_sessions
from api.resources.health import register_health
from commands import register_commands
from extensions import amqp, db, redis_store
from settings import load_config
from settings.logs import configure_logging


class App(Flask):
    # The hooks and views a request runs are a few dozen functions; one made per request
    # (an ``after_this_request`` closure) is not kept once the table is this full.
    ENSURE_SYNC_KEPT = 512

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._is_async: dict[FunctionType, bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's, with its answer kept per function: Flask asks ``inspect`` for every
        hook and view on every request (a tenth of a ``/healthz`` answer's CPU). Keyed by
        the plain function: a view's bound method is a new object on every request.
        Any other callable (a partial, a callable object) gets Flask's own answer."""
        key = getattr(func, "__func__", func)
        if not isinstance(key, FunctionType):
            return super().ensure_sync(func)
        is_async = self._is_async.get(key)
        if is_async is None:
            is_async = iscoroutinefunction(key)
            if len(self._is_async) < self.ENSURE_SYNC_KEPT:
                self._is_async[key] = is_async
        return super().ensure_sync(func) if is_async else func

    def make_default_options_response(self):
        # Flask answers OPTIONS with 200 and an empty text/html body; nothing to say is a 204.
        response = super().make_default_options_response()
        response.status_code = 204
        return response


def create_app(
    config: str | type | Mapping | None = None, *, environ: Mapping[str, str] | None = None
) -> Flask:
    """Build the app. ``config``: an env name ('dev', 'prod', 'test'), a config
    class, or a mapping of overrides applied last (see ``settings``); ``environ``: the
    environment the settings read (default ``os.environ``)."""
    app = App("wdapi", instance_relative_config=True)
    app.request_class = APIRequest
    app.response_class = JSONResponse
    app.json = JSONProvider(app)
    disable_sessions(app)
    load_config(app, config, environ)
    app.config.setdefault("RESTX_JSON", RESTX_JSON)
    configure_logging(app)
    register_extensions(app)
    register_error_handlers(app)
    register_request_hooks(app)
    init_rate_limits(app)
    register_auth(app)
    init_cors(app)
    init_proxy_fix(app)
    register_health(app)
    register_metrics(app)
    register_converters(app)
    init_api(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    # SQL echo adds its own stdout handler unless the logger has one; with this
    # the lines reach the app's handlers once, with the request id.
    logging.getLogger("sqlalchemy.engine.Engine").addHandler(logging.NullHandler())
    db.init_app(app)
    if click.get_current_context(silent=True) is not None:
        init_migrations(app)  # built by the flask command: `flask db ...` may run
    redis_store.init_app(app)
    amqp.init_app(app)


def init_migrations(app: Flask) -> None:
    """Flask-Migrate's ``flask db`` commands for ``app``. Only the CLI needs them: Alembic
    and Mako are 10 MiB that no gunicorn worker should carry (bench/README.md, memory)."""
    from flask_migrate import Migrate

    Migrate(app, db)
