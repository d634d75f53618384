"""Apps and databases for tests: the test config, migration, and guaranteed clean-up."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url

from extensions import db
from factory import create_app, init_migrations
from tests.helpers.redis_support import redis_config
from tests.helpers.require import require_port


def config_for(url: str, **extra) -> dict:
    """The config of a test app on ``url``; ``extra`` wins.

    Each app gets its own Redis key prefix: cached records never leak between tests.
    """
    return {
        "ENV_NAME": "test",
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ECHO": False,
        **redis_config(),
        **extra,
    }


def migrate(url: str) -> None:
    """Run every Alembic migration on the database at ``url``."""
    app = create_app(config_for(url))
    init_migrations(app)
    with app.app_context():
        upgrade()
        db.engine.dispose()


def copy_sqlite(template: Path, target: Path) -> str:
    """A copy of a migrated SQLite file (cheaper than migrating again); its URL."""
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def recreate_mysql(url: str) -> str:
    """Create the test database from scratch so the migration runs on an empty schema."""
    parsed = make_url(url)
    require_port(parsed.host or "127.0.0.1", parsed.port or 3306, "MySQL (TEST_DATABASE_URL)")
    server = create_engine(parsed.set(database=""), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
            conn.execute(
                text(f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            )
    finally:
        server.dispose()
    return url


def empty_database(app: Flask) -> None:
    """Delete every row any test committed, and close the app's connections."""
    with app.app_context():
        try:
            for table in reversed(db.metadata.sorted_tables):
                db.session.execute(delete(table))
            db.session.commit()
        finally:
            db.session.remove()
            db.engine.dispose()


@contextmanager
def fresh_app(url: str, **config) -> Iterator[Flask]:
    """A fresh app on ``url``; its rows are deleted afterwards, also when the test failed."""
    app = create_app(config_for(url, **config))
    init_migrations(app)  # as the flask command does: tests migrate, up and down
    try:
        yield app
    finally:
        empty_database(app)
