"""The application factory: a table of contents of the app's parts."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from api import init_api
from api.converters import register_converters
from api.errors import register_error_handlers
from api.filters import register_request_hooks
from api.health import register_health
from api.parsing import APIRequest
from api.responses import RESTX_JSON, JSONProvider, JSONResponse
from commands import register_commands
from extensions import amqp, db, migrate, redis_store
from logsetup import configure_logging
from settings import load_config

log = logging.getLogger(__name__)


def create_app(config: str | type | Mapping | None = None) -> Flask:
    """Build the app. ``config``: an env name ('dev', 'prod', 'test'), a config
    class, or a mapping of overrides applied last (see ``settings``)."""
    app = Flask("wdapi", instance_relative_config=True)
    app.request_class = APIRequest
    app.response_class = JSONResponse
    app.json = JSONProvider(app)
    load_config(app, config)
    app.config.setdefault("RESTX_JSON", RESTX_JSON)
    configure_logging(app)
    register_extensions(app)
    register_error_handlers(app)
    register_request_hooks(app)
    register_health(app)
    register_converters(app)
    init_api(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    # SQL echo adds its own stdout handler unless the logger has one; with this
    # the lines reach the app's handlers once, with the request id.
    logging.getLogger("sqlalchemy.engine.Engine").addHandler(logging.NullHandler())
    db.init_app(app)
    app.teardown_appcontext(close_session)  # runs before Flask-SQLAlchemy's own remove()
    migrate.init_app(app, db, directory=app.config.get("MIGRATIONS_DIR", "migrations"))
    redis_store.init_app(app)
    amqp.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)


def close_session(_exc) -> None:
    # The rollback that ends a request fails when the server went away meanwhile; raised from
    # teardown it would replace the response (often a 503 already) with gunicorn's bare 500.
    try:
        db.session.remove()
    except SQLAlchemyError as err:
        log.warning("database session could not be closed cleanly: %r", getattr(err, "orig", err))
        db.session.registry.clear()  # SQLAlchemy has invalidated the lost connection


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # LIKE is case-sensitive, as under MySQL's utf8mb4_bin collation.
    cursor.execute("PRAGMA case_sensitive_like = ON")
    # WAL lets readers proceed while a writer (another gunicorn worker) commits.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()
