"""database.RowInsert: a write's INSERT on the session's transaction, sent on the DB-API
cursor; what SQLAlchemy's Session.execute would have stored, defaults and errors included."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlalchemy.exc import IntegrityError

from extensions import database, db
from services import wdtests


@pytest.mark.parametrize("echo", [False, True], ids=["cursor", "echoed"])
def test_a_row_insert_stores_what_it_returns_defaults_filled(app_ctx, echo):
    db.engine.echo = echo
    try:
        inserted = wdtests.INSERT.run(db.session, {"name": "n", "age": None, "version": 1})
        db.session.commit()
    finally:
        db.engine.echo = False
    # The id and both timestamps came from the table's own defaults, as SQLAlchemy fills them.
    assert set(inserted) == {c.key for c in wdtests.TABLE.c}
    assert len(inserted["id"]) == 36 and inserted["created_at"].tzinfo is not None
    stored = db.session.execute(select(wdtests.TABLE).where(wdtests.TABLE.c.id == inserted["id"])).one()
    assert stored._asdict() == inserted  # aware datetimes, as UTCDateTime reads them back


def test_a_taken_key_is_sqlalchemys_integrity_error_and_the_session_goes_on(app_ctx):
    wdtests.INSERT.run(db.session, {"id": "taken", "name": "a", "version": 1})
    db.session.commit()
    with pytest.raises(IntegrityError):
        wdtests.INSERT.run(db.session, {"id": "taken", "name": "b", "version": 1})
    db.session.rollback()
    wdtests.INSERT.run(db.session, {"id": "free", "name": "c", "version": 1})
    db.session.commit()
    names = db.session.execute(select(wdtests.TABLE.c.name).order_by(wdtests.TABLE.c.id)).scalars().all()
    assert names == ["c", "a"]


def test_pending_orm_changes_are_sent_before_the_row(app_ctx):
    """As Session.execute's autoflush: an ORM change made first reaches the database first."""
    created = wdtests.create(data={"id": "orm", "name": "before"})
    record = db.session.get(wdtests.Wdtest, created.id)
    assert record is not None
    record.name = "changed"
    wdtests.INSERT.run(db.session, {"id": "after", "name": "x", "version": 1})
    with db.session.no_autoflush:  # this SELECT must not be what sends the change
        name = db.session.execute(select(wdtests.TABLE.c.name).where(wdtests.TABLE.c.id == "orm")).scalar()
    assert name == "changed"
    db.session.rollback()


def test_only_python_side_defaults_are_filled():
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", DateTime, default=func.now())
    )
    with pytest.raises(TypeError, match="t.at: only Python-side defaults"):
        database.RowInsert(table)
    uses_context = Table(
        "u",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(8), default=lambda context: context.get_current_parameters()["id"]),
    )
    with pytest.raises(TypeError, match="execution context"):
        database.RowInsert(uses_context).values({"id": 1})
