"""services.idempotency_keys against the real databases: a keyed write runs once, its key
row is part of its transaction, and expired keys are freed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.errors import Conflict, Unprocessable
from extensions import db
from models import IdempotencyKey
from models.types import utcnow
from services import idempotency_keys, outbox, wdtests


def keys() -> int:
    return db.session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0


def test_a_keyed_create_runs_once_and_a_retry_gets_its_record(app_ctx):
    with idempotency_keys.keyed(caller="", key="k1", fingerprint="f") as first:
        created = wdtests.create(data={"name": "once"})
    with idempotency_keys.keyed(caller="", key="k1", fingerprint="f") as retry:
        again = wdtests.create(data={"name": "once"})  # a generated id: would be a second record
    assert (first.replayed, retry.replayed) == (False, True)
    assert vars(again) == vars(created)
    assert wdtests.get_all().total == 1 and outbox.get_pending_count() == 1 and keys() == 1


def test_a_failed_write_leaves_no_key(app_ctx):
    wdtests.create(data={"id": "t", "name": "x"})
    with idempotency_keys.keyed(caller="", key="k2", fingerprint="f"), pytest.raises(Conflict):
        wdtests.create(data={"id": "t", "name": "y"})
    assert keys() == 0  # rolled back with the write: a retry runs again


def test_another_request_with_the_key_is_unprocessable(app_ctx):
    with idempotency_keys.keyed(caller="", key="k3", fingerprint="f"):
        wdtests.create(data={"id": "u", "name": "x"})
    with idempotency_keys.keyed(caller="", key="k3", fingerprint="g"), pytest.raises(Unprocessable):
        wdtests.delete(wdtest_id="u")
    assert wdtests.get(wdtest_id="u").name == "x"


def test_keys_are_per_caller(app_ctx):
    for caller in ("alice", "bob"):
        with idempotency_keys.keyed(caller=caller, key="same", fingerprint="f") as request:
            wdtests.create(data={"name": caller})
        assert not request.replayed
    assert keys() == 2


def test_expired_keys_are_freed_and_purged(app_ctx):
    with idempotency_keys.keyed(caller="", key="old", fingerprint="f"):
        wdtests.create(data={"id": "e1", "name": "x"})
    with idempotency_keys.keyed(caller="", key="new", fingerprint="f"):
        wdtests.create(data={"id": "e2", "name": "x"})
    ttl = app_ctx.config["IDEMPOTENCY_TTL"]
    past = utcnow() - timedelta(seconds=ttl + 60)
    db.session.execute(update(IdempotencyKey).where(IdempotencyKey.key == "old").values(created_at=past))
    db.session.commit()
    with idempotency_keys.keyed(caller="", key="old", fingerprint="other") as reused:
        wdtests.create(data={"id": "e3", "name": "x"})  # expired: a new request, not a 422
    assert not reused.replayed
    past = utcnow() - timedelta(seconds=ttl + 60)
    db.session.execute(update(IdempotencyKey).where(IdempotencyKey.key == "old").values(created_at=past))
    db.session.commit()
    assert idempotency_keys.delete_expired() == 1 and keys() == 1
    with idempotency_keys.keyed(caller="", key="new", fingerprint="f") as request:
        wdtests.delete(wdtest_id="e2")
    assert request.replayed  # the live key still answers: nothing deleted
    assert wdtests.get(wdtest_id="e2").name == "x"


def test_the_purge_command(app):
    result = app.test_cli_runner().invoke(args=["idempotency", "purge"])
    assert result.exit_code == 0 and result.output == "deleted 0 expired keys\n"
