"""Record versions, revisions and conditional writes in services.wdtests, on each backend."""

import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from core.errors import NotFound, PreconditionFailed
from extensions import db
from models import OutboxEvent
from services import wdtests


def rev(record) -> str:
    return wdtests.revision(wdtest_id=record.id, version=record.version, created_at=record.created_at)


def events() -> list[dict]:
    db.session.rollback()
    return [json.loads(p) for p in db.session.scalars(select(OutboxEvent.payload).order_by(OutboxEvent.id))]


def test_version_starts_at_1_and_grows_by_one_per_change(app_ctx):
    assert wdtests.create(data={"id": "v", "name": "a"}).version == 1
    assert wdtests.update(wdtest_id="v", changes={"age": 1}).version == 2
    assert wdtests.update(wdtest_id="v", changes={"name": "b", "age": 2}).version == 3
    wdtests.delete(wdtest_id="v")
    assert [(e["type"], e["version"], e["data"]["version"]) for e in events()] == [
        ("wdtest.created", 1, 1),
        ("wdtest.updated", 2, 2),
        ("wdtest.updated", 3, 3),
        ("wdtest.deleted", 4, 3),  # the final version + 1; data is the row as it was
    ]
    assert {e["subject"] for e in events()} == {"v"}


def test_an_update_that_changes_nothing_writes_nothing(app_ctx):
    created = wdtests.create(data={"id": "same", "name": "a", "age": 1})
    unchanged = wdtests.update(wdtest_id="same", changes={"name": "a", "age": 1})
    assert unchanged == created
    assert [e["type"] for e in events()] == ["wdtest.created"]


def test_a_stale_revision_changes_nothing(app_ctx):
    first = wdtests.create(data={"id": "c", "name": "a"})
    second = wdtests.update(wdtest_id="c", changes={"name": "b"}, expected=[rev(first)])
    with pytest.raises(PreconditionFailed) as info:
        wdtests.update(wdtest_id="c", changes={"name": "c"}, expected=[rev(first)])
    assert info.value.extra == {"version": 2}
    with pytest.raises(PreconditionFailed):
        wdtests.delete(wdtest_id="c", expected=[rev(first), "junk"])
    assert wdtests.get(wdtest_id="c").name == "b"
    assert len(events()) == 2
    wdtests.delete(wdtest_id="c", expected=["junk", rev(second)])
    with pytest.raises(NotFound):
        wdtests.get(wdtest_id="c")


def test_a_missing_record_fails_the_precondition(app_ctx):
    with pytest.raises(PreconditionFailed):
        wdtests.update(wdtest_id="none", changes={"age": 1}, expected=["1-x"])
    with pytest.raises(NotFound):
        wdtests.delete(wdtest_id="none")


def test_a_record_re_created_under_the_same_id_has_a_new_revision(app_ctx):
    old = wdtests.create(data={"id": "again", "name": "a"})
    wdtests.delete(wdtest_id="again")
    new = wdtests.create(data={"id": "again", "name": "a"})
    assert new.version == old.version == 1 and rev(new) != rev(old)
    with pytest.raises(PreconditionFailed):
        wdtests.update(wdtest_id="again", changes={"name": "b"}, expected=[rev(old)])


def test_the_result_outlives_a_concurrent_delete(app_ctx):
    """The returned snapshot is plain data: reading it never goes back to the database."""
    updated = wdtests.update(wdtest_id=wdtests.create(data={"name": "a"}).id, changes={"age": 5})
    db.session.execute(text("DELETE FROM wdtest"))
    db.session.commit()
    assert (updated.age, updated.version) == (5, 2)


def test_migration_gives_existing_rows_version_1(app_ctx):
    downgrade(revision="0002")
    db.session.execute(
        text(
            "INSERT INTO wdtest (id, name, age, created_at, updated_at)"
            " VALUES ('old', 'x', NULL, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO outbox (event_id, event_type, payload, created_at, attempts) VALUES"
            " ('e1', 'wdtest.created', '{\"data\": {\"id\": \"old\"}}', '2026-01-01 00:00:00', 0)"
        )
    )
    db.session.commit()
    upgrade()
    assert wdtests.get(wdtest_id="old").version == 1
    assert db.session.scalar(select(OutboxEvent.record_id)) == "old"
    assert wdtests.update(wdtest_id="old", changes={"age": 1}).version == 2
