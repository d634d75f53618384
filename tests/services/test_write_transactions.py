"""extensions.database.transaction against the real databases: which failures run the
whole transaction again, and that the cache is invalidated once COMMIT was sent."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.errors import Conflict
from extensions import database, db
from services import wdtests
from tests.helpers.dbapi_faults import commit_answer_lost
from tests.helpers.round_trips import sent_commands


def retried(reason: str) -> float:
    """Transactions run again so far for ``reason`` (the metric the app exports)."""
    return REGISTRY.get_sample_value("wdapi_db_write_retries_total", {"reason": reason}) or 0.0


@pytest.fixture
def mysql(app_ctx, backend):
    if backend != "mysql":
        pytest.skip("row locks, deadlocks and KILL are MySQL/MariaDB's")
    return app_ctx


def test_a_deadlock_victim_runs_again_as_a_whole(mysql):
    """Work locks a then waits for b; another transaction, holding b and more rows, asks
    for a: InnoDB rolls back the lighter one (ours, 1213) and it runs again, committing."""
    for rid in ["a", "b", *(f"f{i}" for i in range(8))]:
        wdtests.create(data={"id": rid, "name": "x"})
    holding_a = threading.Event()
    attempts, result = [], {}

    def work():
        attempts.append(1)
        db.session.execute(text("UPDATE wdtest SET age = 1 WHERE id = 'a'"))
        holding_a.set()
        db.session.execute(text("UPDATE wdtest SET age = 1 WHERE id = 'b'"))  # waits for the other
        return len(attempts)

    with db.engine.connect() as other:
        other.execute(text("UPDATE wdtest SET age = 2 WHERE id LIKE 'f%' OR id = 'b'"))  # heavier
        before = retried("deadlock")

        def writer():
            with mysql.app_context():
                result["attempts"] = database.transaction(work, session=db.session, after=lambda: None)
                db.session.remove()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            assert holding_a.wait(10)
            other.execute(text("UPDATE wdtest SET age = 2 WHERE id = 'a'"))  # the deadlock
            other.commit()
        finally:
            thread.join(20)
    assert result["attempts"] == 2
    assert retried("deadlock") == before + 1
    assert {r.age for r in wdtests.get_all(filters={"id__in": ["a", "b"]}).items} == {1}


def test_a_connection_lost_before_commit_runs_again(mysql):
    """The server dies under the transaction before COMMIT (here: KILL of its connection):
    it rolled the transaction back, so running it again is safe."""
    wdtests.create(data={"id": "k", "name": "x", "age": 0})
    attempts = []

    def work():
        attempts.append(1)
        db.session.execute(text("UPDATE wdtest SET age = age + 1 WHERE id = 'k'"))
        if len(attempts) == 1:
            own = db.session.execute(text("SELECT CONNECTION_ID()")).scalar_one()
            with db.engine.connect() as other:
                other.execute(text(f"KILL {int(own)}"))
            db.session.execute(text("SELECT 1"))  # the server is gone: 2013 / 2006

    before = retried("connection")
    database.transaction(work, session=db.session, after=lambda: None)
    assert len(attempts) == 2 and retried("connection") == before + 1
    assert wdtests.get(wdtest_id="k").age == 1  # once: the killed attempt left nothing


@pytest.mark.parametrize("app_config", [{"DB_POOL_SIZE": 1, "DB_MAX_OVERFLOW": 0}])
def test_a_dead_pooled_connection_costs_a_retry_not_an_error(mysql):
    """No ping at checkout: a pooled connection the server killed (a restart, wait_timeout)
    fails the transaction's first statement, and the transaction runs again on a new one."""
    wdtests.create(data={"id": "first", "name": "x"})
    pooled = db.session.execute(text("SELECT CONNECTION_ID()")).scalar_one()
    db.session.commit()
    database.read(lambda conn: conn.execute(text(f"KILL {int(pooled)}")))
    before = retried("connection")
    with sent_commands() as sent:
        response = mysql.test_client().post("/api/v1/wdtests", json={"id": "second", "name": "y"})
    assert response.status_code == 201, response.get_json()
    assert retried("connection") == before + 1
    # The lost INSERT, the new connection's set-up, then the whole transaction once.
    assert sent[0] == "INSERT" and sent[-3:] == ["INSERT", "INSERT", "COMMIT"] and "PING" not in sent
    assert [r.id for r in wdtests.get_all().items] == ["first", "second"]
    assert db.breaker is not None and db.breaker.failures == 0  # the retry's answers closed the count


def test_checkin_rolls_back_only_a_transaction_not_known_to_have_ended(mysql):
    wdtests.create(data={"id": "a", "name": "x"})  # connects: the connection's set-up is sent once
    with sent_commands() as sent:
        wdtests.create(data={"id": "b", "name": "x"})
    assert sent == ["INSERT", "INSERT", "COMMIT"]  # no reset ROLLBACK after the COMMIT
    with sent_commands() as sent, pytest.raises(Conflict):
        wdtests.create(data={"id": "a", "name": "x"})
    assert sent == ["INSERT", "ROLLBACK"]  # the transaction's own, and none at checkin
    with sent_commands() as sent:
        db.session.execute(text("SELECT 1 FROM wdtest"))
        db.session.remove()
    assert sent == ["SELECT", "ROLLBACK"]
    # Used outside a Connection, or a COMMIT that failed: the checkin rolls back.
    raw = db.engine.pool.connect()
    columns = "id, name, version, created_at, updated_at"
    raw.cursor().execute(f"INSERT INTO wdtest ({columns}) VALUES ('raw', 'x', 1, NOW(), NOW())")
    with sent_commands() as sent:
        raw.close()
    assert sent == ["ROLLBACK"]
    dialect = db.engine.dialect

    def failing_commit(dbapi_connection) -> None:
        raise dialect.loaded_dbapi.OperationalError(1180, "Got error during COMMIT")

    dialect.do_commit = failing_commit  # type: ignore[method-assign]
    try:
        with sent_commands() as sent, pytest.raises(OperationalError):
            wdtests.create(data={"id": "c", "name": "x"})
    finally:
        del dialect.do_commit
    assert sent == ["INSERT", "INSERT", "ROLLBACK"]
    assert [r.id for r in wdtests.get_all().items] == ["a", "b"]


def test_a_lost_commit_answer_is_not_run_again_and_still_invalidates(app_ctx):
    """COMMIT took effect but its answer was lost: the outcome is unknown to the app, so the
    transaction is not run again (the error becomes a 503), and ``after`` (the cache
    invalidation) runs all the same."""
    wdtests.create(data={"id": "u", "name": "x", "age": 0})
    attempts, after = [], []

    def work():
        attempts.append(1)
        db.session.execute(text("UPDATE wdtest SET age = age + 1 WHERE id = 'u'"))

    with commit_answer_lost(db.engine) as lost, pytest.raises(OperationalError):
        database.transaction(work, session=db.session, after=lambda: after.append(1))
    assert lost == [1] and attempts == [1] and after == [1]
    assert wdtests.get(wdtest_id="u").age == 1


def test_a_create_runs_without_a_session(app_ctx):
    """An unkeyed create only inserts rows: its transaction is a pooled connection's own,
    no ORM session is opened (``database.insert_transaction``), and the connection goes back."""
    db.session.remove()
    created = wdtests.create(data={"id": "s", "name": "x"})
    assert not db.session.registry.has()
    assert created.version == 1 and wdtests.get(wdtest_id="s").name == "x"
    assert db.engine.pool.checkedout() == 0


def _in_transaction(fairy) -> bool:
    """Whether the pooled connection is inside a transaction (as the server or driver sees it)."""
    dbapi = fairy.dbapi_connection
    if db.engine.dialect.name == "sqlite":
        return dbapi.in_transaction
    cursor = dbapi.cursor()
    cursor.execute("SELECT @@in_transaction")  # MariaDB's
    (value,) = cursor.fetchone()
    cursor.close()
    return bool(value)


@pytest.mark.parametrize("app_config", [{"DB_POOL_SIZE": 1, "DB_MAX_OVERFLOW": 0}])
def test_a_failed_create_never_goes_back_to_the_pool_mid_transaction(app_ctx):
    """The readiness probe closes a Connection inside its autobegun transaction, which marks
    that transaction ended without a ROLLBACK at checkin. The next create on that connection
    fails (a taken id): its checkin must still roll back, else the pooled connection keeps
    the failed transaction open (SQLite's write lock, MariaDB's lock on the key)."""
    wdtests.create(data={"id": "d", "name": "x"})
    db.probe()(5.0)
    with pytest.raises(Conflict):
        wdtests.create(data={"id": "d", "name": "x"})
    fairy = db.engine.raw_connection()  # the pool's one connection
    try:
        assert not _in_transaction(fairy)
    finally:
        fairy.close()


def test_a_lost_commit_answer_of_a_create_is_not_run_again_and_still_invalidates(app_ctx, monkeypatch):
    """As for a session's transaction: COMMIT took effect, its answer was lost; the create is
    not run again (it would answer 409 to its own insert) and the list pages are still made stale."""
    invalidated = []
    monkeypatch.setattr(wdtests.cache, "invalidate", lambda *items: invalidated.append(items))
    with commit_answer_lost(db.engine) as lost, pytest.raises(OperationalError):
        wdtests.create(data={"id": "c", "name": "x"})
    assert lost == [1] and invalidated == [((wdtests.LIST_CACHE_KIND, None),)]
    assert [r.id for r in wdtests.get_all().items] == ["c"]  # committed, once
    assert db.engine.pool.checkedout() == 0


def test_a_create_interrupted_mid_transaction_leaves_nothing(app_ctx, monkeypatch):
    """Interrupted between its two INSERTs (a worker timeout raises in the thread): nothing
    commits, the connection is dropped rather than pooled mid-transaction, and the next
    create runs on a fresh one."""
    real = wdtests.outbox.row

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(wdtests.outbox, "row", interrupted)
    with pytest.raises(KeyboardInterrupt):
        wdtests.create(data={"id": "i", "name": "x"})
    assert db.engine.pool.checkedout() == 0
    assert db.breaker is None or db.breaker.in_use() == 0  # its slot is free again
    monkeypatch.setattr(wdtests.outbox, "row", real)
    wdtests.create(data={"id": "j", "name": "x"})
    assert [r.id for r in wdtests.get_all().items] == ["j"]
    assert wdtests.outbox.get_pending_count() == 1  # j's event only


def test_writable_columns_are_the_models_unmanaged_ones_and_every_input_field():
    """A field added to the input schemas must be a column the write sets, not ignored."""
    from api.schemas.wdtests import WdtestCreate, WdtestReplace, WdtestUpdate

    assert set(wdtests.WRITABLE) == {"name", "age"}
    for schema in (WdtestCreate, WdtestReplace, WdtestUpdate):
        assert set(schema().fields) - {"id"} == set(wdtests.WRITABLE), schema


def test_an_unknown_change_is_refused_not_ignored(app_ctx):
    wdtests.create(data={"id": "w", "name": "x"})
    with pytest.raises(TypeError, match="colour"):
        wdtests.update(wdtest_id="w", changes={"name": "y", "colour": "red"})
    assert wdtests.get(wdtest_id="w").name == "x"


def test_a_new_column_is_written_by_update(app_ctx, monkeypatch):
    """WRITABLE is derived, so update applies whatever writable columns the model has."""
    monkeypatch.setattr(wdtests, "WRITABLE", (*wdtests.WRITABLE, "created_at"))  # as if a new column
    wdtests.create(data={"id": "n", "name": "x"})
    when = wdtests.get(wdtest_id="n").created_at.replace(year=2001)
    assert wdtests.update(wdtest_id="n", changes={"created_at": when}).created_at == when
