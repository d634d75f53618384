"""The Alembic migrations build exactly the schema the models describe, and reverse cleanly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from extensions import db


def test_models_match_migrations(app_ctx):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(app_ctx):
    downgrade(revision="base")
    assert "wdtest" not in inspect(db.engine).get_table_names()
    upgrade()
    assert "wdtest" in inspect(db.engine).get_table_names()
