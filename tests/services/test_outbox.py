"""The outbox of Wdtest events and its relay, against the real database(s) and RabbitMQ."""

import json

import pytest
from sqlalchemy import select

from api.schemas.wdtests import wdtest_out
from core.errors import Conflict, Unavailable
from extensions import amqp, db
from models import OutboxEvent
from services import outbox, wdtests
from tests.helpers.apps import fresh_app
from tests.helpers.rabbit import dead_url, silent_url, unique
from tests.helpers.relays import drain_with_relays


@pytest.fixture
def exchange():
    return unique("test.events")  # a private exchange: other runs' events never mix in


@pytest.fixture
def app_config(exchange):
    return {"WDTEST_EVENTS_EXCHANGE": exchange}


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app
        amqp.close()


def rows() -> list[OutboxEvent]:
    db.session.rollback()  # a fresh snapshot: the relay commits in its own session
    return list(db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def write_three(record_id: str = "ev1") -> dict:
    """Create, update and delete one record; return the API view of each step."""
    created = wdtest_out.dump(wdtests.create(data={"id": record_id, "name": "wade", "age": 20}))
    updated = wdtest_out.dump(wdtests.update(wdtest_id=record_id, changes={"age": 21}))
    wdtests.delete(wdtest_id=record_id)
    return {"created": created, "updated": updated}


def test_each_write_adds_one_event_in_its_own_transaction(ctx):
    views = write_three()
    events = rows()
    assert [e.event_type for e in events] == ["wdtest.created", "wdtest.updated", "wdtest.deleted"]
    assert all(e.sent_at is None and e.attempts == 0 for e in events)
    assert outbox.get_pending_count() == 3
    created, updated, deleted = (json.loads(e.payload) for e in events)
    assert created["data"] == views["created"]  # the record exactly as the API shows it
    assert updated["data"] == views["updated"] == deleted["data"]
    assert len({created["id"], updated["id"], deleted["id"]}) == 3
    assert created["type"] == "wdtest.created" and created["time"].endswith("+00:00")
    assert created["id"] == events[0].event_id


def test_a_failed_write_adds_no_event(ctx):
    wdtests.create(data={"id": "dup", "name": "first"})
    with pytest.raises(Conflict):
        wdtests.create(data={"id": "dup", "name": "second"})
    assert [e.event_type for e in rows()] == ["wdtest.created"]


def test_writes_succeed_with_the_broker_down(database_url):
    with fresh_app(database_url, AMQP_URL=dead_url()) as app:
        client = app.test_client()
        assert client.post("/api/v1/wdtests", json={"id": "down", "name": "x"}).status_code == 201
        assert client.patch("/api/v1/wdtests/down", json={"age": 3}).status_code == 200
        with app.app_context():
            assert outbox.get_pending_count() == 2
            with pytest.raises(Unavailable):
                outbox.relay()
            # MySQL claims one event per record at a time; SQLite the whole batch.
            assert [e.sent_at for e in rows()] == [None, None] and rows()[0].attempts == 1
            assert rows()[0].last_error.startswith("Unavailable")


def test_relay_publishes_the_three_events_in_order(ctx, broker, exchange):
    queue = broker.bind_events(exchange)
    views = write_three()
    assert outbox.relay() == 3
    received = broker.drain(queue)
    assert [p.type for p, _ in received] == ["wdtest.created", "wdtest.updated", "wdtest.deleted"]
    assert [b["type"] for _, b in received] == ["wdtest.created", "wdtest.updated", "wdtest.deleted"]
    assert received[0][1]["data"] == views["created"]
    assert all(p.delivery_mode == 2 and p.message_id == b["id"] for p, b in received)
    assert all(e.sent_at is not None for e in rows())
    assert outbox.relay() == 0 and broker.drain(queue) == []


def test_events_written_while_the_relay_is_down_arrive_exactly_once(database_url, broker, exchange):
    queue = broker.bind_events(exchange)
    with fresh_app(database_url, AMQP_URL=dead_url(), WDTEST_EVENTS_EXCHANGE=exchange) as down:
        with down.app_context():
            for i in range(5):
                write_three(f"r{i}")
            with pytest.raises(Unavailable):
                outbox.relay()
        with fresh_app(database_url, WDTEST_EVENTS_EXCHANGE=exchange) as up:
            relay_and_check(up, broker, queue)


def relay_and_check(up, broker, queue):
    runner = up.test_cli_runner()
    result = runner.invoke(args=["outbox", "relay", "--once", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "relayed 15 events" in result.output
    received = broker.drain(queue)
    assert len(received) == 15 and len({b["id"] for _, b in received}) == 15
    ids = [b["data"]["id"] for _, b in received if b["type"] == "wdtest.created"]
    assert ids == [f"r{i}" for i in range(5)]  # oldest first
    # A restart finds nothing left to send.
    assert "relayed 0 events" in runner.invoke(args=["outbox", "relay", "--once"]).output
    assert broker.drain(queue) == []


def test_relay_command_fails_when_the_broker_is_down(database_url):
    with fresh_app(database_url, AMQP_URL=dead_url()) as app:
        with app.app_context():
            wdtests.create(data={"name": "x"})
        result = app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
        assert result.exit_code == 1
        assert "unavailable" in result.output
        with app.app_context():
            assert outbox.get_pending_count() == 1


def test_relay_command_fails_cleanly_when_the_broker_never_answers(database_url):
    with silent_url() as url, fresh_app(database_url, AMQP_URL=url) as app:
        with app.app_context():
            wdtests.create(data={"name": "x"})
        result = app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
        assert result.exit_code == 1 and "unavailable" in result.output, result.output
        with app.app_context():
            assert outbox.get_pending_count() == 1


def test_two_relays_at_once_do_not_send_an_event_twice(app, broker, exchange):
    queue = broker.bind_events(exchange)
    with app.app_context():
        for i in range(40):
            write_three(f"c{i}")
    total = 120
    sent = drain_with_relays(app, limit=5, timeout=60)
    received = broker.drain(queue)
    assert sum(sent) == total
    assert len(received) == total and len({b["id"] for _, b in received}) == total


def test_the_relay_loop_outlives_an_unexpected_error(app, broker, exchange, monkeypatch):
    """Nothing restarts the relay beside gunicorn: a bug in one batch must not end it."""
    import os
    import signal

    queue = broker.bind_events(exchange)
    with app.app_context():
        wdtests.create(data={"id": "survivor", "name": "x"})
    real_relay, calls = outbox.relay, []

    def flaky_relay(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("a bug in one batch")
        sent = real_relay(**kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # the relay's own handler: stop after this batch
        return sent

    monkeypatch.setattr(outbox, "relay", flaky_relay)
    result = app.test_cli_runner().invoke(args=["outbox", "relay", "--interval", "0.01"])
    assert result.exit_code == 0, result.output
    assert "relayed 1 events" in result.output
    assert [body["type"] for _, body in broker.drain(queue)] == ["wdtest.created"]
