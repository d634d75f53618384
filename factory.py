"""The application factory: a table of contents of the app's parts."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask
from sqlalchemy import event

from api import init_api
from api.errors import register_error_handlers
from api.parsing import APIRequest
from api.responses import RESTX_JSON, JSONProvider, JSONResponse
from extensions import db, migrate
from settings import load_config


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
    init_api(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=app.config.get("MIGRATIONS_DIR", "migrations"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # LIKE is case-sensitive, as under MySQL's utf8mb4_bin collation.
    cursor.execute("PRAGMA case_sensitive_like = ON")
    # WAL lets readers proceed while a writer (another gunicorn worker) commits.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def configure_logging(app: Flask) -> None:
    level = str(app.config["LOG_LEVEL"]).upper()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(filename)s:%(lineno)d %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(level)
