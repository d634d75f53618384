"""The read engine (extensions.database.read): autocommit connections without ping or reset,
so a read is one round trip; a dead pooled connection costs one retry, not an error; one slot
budget for both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from core.errors import NotFound
from extensions import database, db
from services import wdtests
from tests.helpers.round_trips import sent_commands


def test_a_read_is_one_round_trip(app_ctx, backend):
    if backend != "mysql":
        pytest.skip("counts PyMySQL's commands")
    wdtests.create(data={"id": "r", "name": "x"})
    wdtests.get(wdtest_id="r")  # the read pool connects once (its settings: not per read)
    with sent_commands() as sent:
        wdtests.get(wdtest_id="r")
        with pytest.raises(NotFound):
            wdtests.get(wdtest_id="missing")
        wdtests.get_all(include_total=False)
    # No PING at checkout, no BEGIN, no ROLLBACK at close or checkin.
    assert sent == ["SELECT"] * 3


def test_the_session_engine_keeps_its_transactions(app_ctx, backend):
    if backend != "mysql":
        pytest.skip("counts PyMySQL's commands")
    wdtests.create(data={"id": "w", "name": "x"})
    with sent_commands() as sent:
        wdtests.update(wdtest_id="w", changes={"name": "y"})
    # The compare-and-set UPDATE and the outbox row in one transaction (no ping, no reset).
    assert sent == ["SELECT", "UPDATE", "INSERT", "COMMIT"]


def test_read_connections_autocommit_and_session_ones_do_not(app_ctx, backend):
    if backend != "mysql":
        pytest.skip("the session variable is MySQL's")
    with db.read_engine.connect() as conn:
        assert conn.execute(text("SELECT @@autocommit")).scalar_one() == 1
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT @@autocommit")).scalar_one() == 0


@pytest.mark.parametrize("app_config", [{"DB_POOL_SIZE": 1, "DB_MAX_OVERFLOW": 0, "DB_CONNECTION_SLOTS": 1}])
def test_a_killed_read_connection_is_replaced_by_one_retry(app_ctx, backend):
    if backend != "mysql":
        pytest.skip("server-side connection kill applies to MySQL/MariaDB")
    wdtests.create(data={"id": "k", "name": "kept"})
    pooled = database.read(lambda conn: conn.execute(text("SELECT CONNECTION_ID()")).scalar_one())
    # What a server restart or wait_timeout does to an idle pooled connection.
    with db.engine.connect() as other:
        other.execute(text(f"KILL {pooled}"))
    with sent_commands() as sent:
        assert wdtests.get(wdtest_id="k").name == "kept"
    # The failed statement, the new connection's own settings, the statement again.
    assert sent[0] == sent[-1] == "SELECT" and sent.count("SELECT") == 2 and "PING" not in sent
    fresh = database.read(lambda conn: conn.execute(text("SELECT CONNECTION_ID()")).scalar_one())
    assert fresh != pooled
    assert db.breaker is not None and db.breaker.failures == 0  # the retry's answer closed the count


@pytest.mark.parametrize("app_config", [{"DB_CONNECTION_SLOTS": 1, "DB_POOL_TIMEOUT": 0.2}])
def test_both_engines_share_the_connection_slots(app_ctx):
    with db.read_engine.connect():
        with pytest.raises(database.CircuitOpen, match="saturated"):
            db.engine.connect()
    with db.engine.connect():
        with pytest.raises(database.CircuitOpen, match="saturated"):
            wdtests.get(wdtest_id="any")


def test_disposing_the_session_engine_disposes_the_read_engine(app_ctx):
    wdtests.get_all()
    pool = db.read_engine.pool
    db.engine.dispose()
    assert db.read_engine.pool is not pool  # a new, empty pool


PAGE = wdtests.TABLE.select().add_columns(
    select(func.count()).select_from(wdtests.TABLE).scalar_subquery().label("total")
)


@pytest.mark.parametrize("echo", [False, True], ids=["cursor", "echoed"])
def test_cursor_reads_give_sqlalchemys_rows(app_ctx, echo):
    """fetch_one/fetch_all (the DB-API cursor, or SQLAlchemy itself under SQLALCHEMY_ECHO):
    the same values, types included (aware datetimes), with attribute access by key."""
    app_ctx.extensions[database.READ_ENGINE].echo = echo
    wdtests.create(data={"id": "c1", "name": "one", "age": 1})
    wdtests.create(data={"id": "c2", "name": "two"})
    page = PAGE.order_by(wdtests.TABLE.c.id)
    expected = database.read(lambda conn: conn.execute(page).all())
    rows = database.fetch_all(database.Query(page), {})
    assert [tuple(row) for row in rows] == [tuple(row) for row in expected] and len(rows) == 2
    assert rows[0].created_at.tzinfo is not None and rows[1].age is None and rows[0].total == 2
    one = database.fetch_one(wdtests.BY_ID, {"wdtest_id": "c2"})
    assert one is not None and one.name == "two" and tuple(one) == tuple(expected[1])[:-1]
    assert database.fetch_one(wdtests.BY_ID, {"wdtest_id": "none"}) is None
    count = database.fetch_all(database.Query(select(func.count()).select_from(wdtests.TABLE)), {})
    assert count[0][0] == 2


@pytest.mark.parametrize("app_config", [{"DB_POOL_SIZE": 2, "DB_MAX_OVERFLOW": 0, "DB_BREAKER_THRESHOLD": 2}])
def test_stale_pooled_connections_failing_together_count_once(app_ctx, backend):
    """After a restart every pooled connection fails its next statement: the first counts
    toward the breaker, the ones the pool already knows dead do not (two at once would open it)."""
    if backend != "mysql":
        pytest.skip("server-side connection kill applies to MySQL/MariaDB")
    first, second = db.engine.connect(), db.engine.connect()  # both held, as by two threads
    for conn in (first, second):
        ident = conn.execute(text("SELECT CONNECTION_ID()")).scalar_one()
        conn.commit()
        with db.read_engine.connect() as other:
            other.execute(text(f"KILL {ident}"))
    for conn in (first, second):
        with pytest.raises(OperationalError):
            conn.execute(text("SELECT 1"))
        conn.close()
    assert db.breaker is not None and db.breaker.failures == 1 and db.breaker.state == database.CLOSED
    assert wdtests.create(data={"id": "after", "name": "x"}).id == "after"  # a fresh connection


@pytest.mark.parametrize("app_config", [{"DB_BREAKER_THRESHOLD": 2}])
def test_one_outage_seen_by_both_engines_counts_once(app_ctx, backend):
    """A killed Galera node cuts the open connections of both pools at once: the session's
    lost statement counts, the read pool's dead connection is the same outage (retried, not a
    second count that would open the breaker while the cluster answers)."""
    if backend != "mysql":
        pytest.skip("server-side connection kill applies to MySQL/MariaDB")
    wdtests.create(data={"id": "both", "name": "kept"})
    read_ident = database.read(lambda conn: conn.execute(text("SELECT CONNECTION_ID()")).scalar_one())
    held = db.engine.connect()
    write_ident = held.execute(text("SELECT CONNECTION_ID()")).scalar_one()
    held.commit()
    killer = create_engine(db.engine.url)
    try:
        with killer.connect() as other:
            for ident in (write_ident, read_ident):
                other.execute(text(f"KILL {ident}"))
    finally:
        killer.dispose()
    with pytest.raises(OperationalError):
        held.execute(text("SELECT 1"))
    held.close()
    assert db.breaker is not None and db.breaker.failures == 1
    assert wdtests.get(wdtest_id="both").name == "kept"  # on the cursor path, after one retry
    assert db.breaker.state == database.CLOSED and db.breaker.failures == 0
