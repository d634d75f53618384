"""extensions.database.transaction against the real databases: which failures run the
whole transaction again, and that the cache is invalidated once COMMIT was sent."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from extensions import database, db
from services import wdtests
from tests.helpers.dbapi_faults import commit_answer_lost


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
