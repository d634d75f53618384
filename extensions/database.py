"""The database extension: Flask-SQLAlchemy with the engine options, the SQLite pragmas and
the mapping of connection failures onto the domain's ``Unavailable``, in one ``init_app``."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.errors import Unavailable

# What a database that cannot be reached raises: a refused or lost connection, an empty pool.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (OperationalError, DisconnectionError, PoolTimeout)
log = logging.getLogger(__name__)
UNAVAILABLE = "The database is unavailable; try again shortly."


def database_uri(uri: str | None, instance_path: str) -> str:
    """The database URL, with SQLite in the instance folder as the default and
    MySQL URLs forced onto PyMySQL with the 4-byte ``utf8mb4`` charset."""
    if not uri:
        os.makedirs(instance_path, exist_ok=True)
        return "sqlite:///" + os.path.join(instance_path, "wdapi.sqlite3")
    url = make_url(uri)
    if url.get_backend_name() == "mysql":
        # utf8 is MySQL's 3-byte subset: emoji would be rejected or mangled.
        url = url.set(drivername="mysql+pymysql").update_query_dict({"charset": "utf8mb4"})
        return url.render_as_string(hide_password=False)
    return uri


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """SQLAlchemy engine options from the DB_* settings; SQLALCHEMY_ENGINE_OPTIONS last."""
    options: dict[str, Any] = {"pool_pre_ping": config["DB_POOL_PRE_PING"]}
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    in_memory_sqlite = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if not in_memory_sqlite:
        options.update(
            pool_size=config["DB_POOL_SIZE"],
            max_overflow=config["DB_MAX_OVERFLOW"],
            pool_timeout=config["DB_POOL_TIMEOUT"],
            pool_recycle=config["DB_POOL_RECYCLE"],
        )
    if url.get_backend_name() == "mysql":
        options["connect_args"] = {
            "connect_timeout": config["DB_CONNECT_TIMEOUT"],
            "read_timeout": config["DB_READ_TIMEOUT"],
            "write_timeout": config["DB_READ_TIMEOUT"],
        }
    options.update(config["SQLALCHEMY_ENGINE_OPTIONS"] or {})
    return options


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # LIKE is case-sensitive, as under MySQL's utf8mb4_bin collation.
    cursor.execute("PRAGMA case_sensitive_like = ON")
    # WAL lets readers proceed while a writer (another gunicorn worker) commits.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def unavailable(err: Exception) -> Unavailable:
    """The domain error for one of CONNECTION_ERRORS."""
    return Unavailable(UNAVAILABLE)


class Database(SQLAlchemy):
    """``db``: binds like Flask-SQLAlchemy, with the app's URL, engine options and pragmas."""

    def init_app(self, app: Flask) -> None:
        config = app.config
        config["SQLALCHEMY_DATABASE_URI"] = database_uri(config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
        config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(config)
        super().init_app(app)
        with app.app_context():
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)

    def _teardown_session(self, exc: BaseException | None) -> None:
        # The rollback that ends a request fails when the server went away meanwhile; raised
        # from teardown it would replace the response (often a 503) with gunicorn's bare 500.
        try:
            super()._teardown_session(exc)
        except SQLAlchemyError as err:
            log.warning("database session could not be closed cleanly: %r", getattr(err, "orig", err))
            self.session.registry.clear()  # SQLAlchemy has invalidated the lost connection

    def probe(self) -> Callable[[float], None]:
        """A readiness probe on this app's pool (call in an app context, run anywhere)."""
        engine = self.engine

        def ping(timeout: float) -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        return ping
