"""DB_SYNC_WAIT: the reads that must see every acknowledged commit set Galera's
``wsrep_sync_wait`` for themselves only; harmless where wsrep is off or absent."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from extensions import database, db
from services import wdtests


def sync_wait(conn) -> int:
    return int(conn.execute(text("SELECT @@session.wsrep_sync_wait")).scalar_one())


@pytest.fixture
def app_config():
    return {"DB_SYNC_WAIT": 1, "DB_POOL_SIZE": 1, "DB_MAX_OVERFLOW": 0}


def test_the_read_waits_and_the_pooled_connection_is_reset(app_ctx, backend):
    if backend != "mysql":
        pytest.skip("wsrep_sync_wait is MariaDB's (and Galera's)")
    with database.synced_connection(db.engine, 1) as conn:
        assert sync_wait(conn) == 1
        own = conn.connection.dbapi_connection
    with db.engine.connect() as conn:  # the same pooled connection (pool of one)
        assert conn.connection.dbapi_connection is own
        assert sync_wait(conn) == 0  # writes and other reads do not pay for the wait


def test_reads_work_with_the_setting_on_every_backend(app_ctx):
    wdtests.create(data={"id": "s", "name": "x"})
    assert wdtests.get(wdtest_id="s").name == "x"
    assert [r.id for r in wdtests.get_all().items] == ["s"]


def test_a_server_without_the_variable_is_skipped(app_ctx, backend):
    if backend != "mysql":
        pytest.skip("the check runs on MySQL/MariaDB connections")
    with db.engine.connect() as conn:
        conn.connection.info[database.SYNC_WAIT_KNOWN] = False  # as on MySQL without wsrep
    with database.synced_connection(db.engine, 1) as conn:
        assert sync_wait(conn) == 0


def test_a_connection_lost_during_the_read_raises_the_loss_not_a_reset_error(app_ctx, backend):
    # Seen in the cluster tier: a Galera node died under a synced read, and resetting the
    # session on the dead connection raised PendingRollbackError (a 500) over the 2013 (a 503).
    if backend != "mysql":
        pytest.skip("KILL is MySQL/MariaDB's")
    with pytest.raises(OperationalError):
        with database.synced_connection(db.engine, 1) as conn:
            victim = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one()
            killer = create_engine(db.engine.url)  # the pool of one is in use here
            try:
                with killer.connect() as other:
                    other.exec_driver_sql(f"KILL {int(victim)}")
            finally:
                killer.dispose()
            conn.exec_driver_sql("SELECT 1")
    with database.synced_connection(db.engine, 1) as conn:  # the pool serves a fresh one
        assert sync_wait(conn) == 1
