"""AMQP_URLS (a cluster's nodes, tried in turn) and quorum queues, against the real local
RabbitMQ. Two fault proxies in front of it stand for two nodes: one is made to die."""

from __future__ import annotations

import time

import pytest

from core.errors import Conflict, InvalidInput
from extensions import amqp
from services import outbox, rabbitmq, wdtests
from tests.helpers.faultproxy import REFUSE, FaultProxy
from tests.helpers.rabbit import HOST, PORT, URL, dead_url, require_broker, unique


def node_url(proxy: FaultProxy) -> str:
    return f"amqp://guest:guest@{proxy.url_host_port}/%2F"


@pytest.fixture
def nodes():
    require_broker()
    with FaultProxy(HOST, PORT) as first, FaultProxy(HOST, PORT) as second:
        yield first, second


def test_a_dead_first_url_is_skipped(make_app, broker):
    app = make_app(AMQP_URL=dead_url(), AMQP_URLS=f"{dead_url()},{URL}")
    with app.app_context():
        try:
            started = time.monotonic()
            queue, created = rabbitmq.create(name=broker.track(unique()))
            assert created and time.monotonic() - started < 1  # a refused connect costs nothing
            assert rabbitmq.get(name=queue.name).name == queue.name
            probe = amqp.probe()
            assert probe is not None
            probe(1.0)  # readiness: any node that answers
        finally:
            amqp.close()


def test_the_connection_moves_to_another_node_when_its_node_dies(make_app, broker, nodes, capsys):
    first, second = nodes
    name = broker.queue(durable=True)
    app = make_app(AMQP_URLS=f"{node_url(first)},{node_url(second)}")
    with app.app_context():
        try:
            rabbitmq.get(name=name)
            assert (first.accepted, second.accepted) == (1, 0)  # the first node, in turn
            first.mode = REFUSE  # the node dies: its connections reset, new ones refused
            started = time.monotonic()
            assert rabbitmq.publish(name=name, body={"n": 1})  # reconnected and confirmed
            moved = time.monotonic() - started
            assert second.accepted == 1
            assert broker.drain(name)[0][1] == {"n": 1}
        finally:
            amqp.close()
    with capsys.disabled():
        print(f"\nAMQP: publish confirmed on another node {moved:.3f} s after its node died")
    assert moved < 2


def test_a_quorum_queue_is_declared_as_such(make_app, broker):
    app = make_app()
    with app.app_context():
        try:
            name = broker.track(unique())
            assert rabbitmq.create(name=name, queue_type="quorum")[1] is True
            assert rabbitmq.create(name=name, queue_type="quorum")[1] is False
            with pytest.raises(Conflict, match="x-queue-type"):
                rabbitmq.create(name=name)  # a classic declare of a quorum queue
            classic = broker.track(unique())
            rabbitmq.create(name=classic)
            with pytest.raises(Conflict, match="x-queue-type"):
                rabbitmq.create(name=classic, queue_type="quorum")
            with pytest.raises(InvalidInput):
                rabbitmq.create(name=broker.track(unique()), queue_type="stream")
        finally:
            amqp.close()


def test_the_relay_declares_the_events_queue_with_its_type(make_app, broker):
    exchange, queue = unique("test.events"), unique("test.events.q")
    broker.exchanges.append(exchange)
    app = make_app(
        WDTEST_EVENTS_EXCHANGE=exchange,
        WDTEST_EVENTS_QUEUE=broker.track(queue),
        WDTEST_EVENTS_QUEUE_TYPE="quorum",
    )
    with app.app_context():
        try:
            wdtests.create(data={"id": "q1", "name": "wade"})
            wdtests.update(wdtest_id="q1", changes={"age": 3})
            assert outbox.relay() == 2  # confirmed: a majority of the quorum queue's nodes have them
            assert [body["type"] for _, body in broker.drain(queue)] == ["wdtest.created", "wdtest.updated"]
            with pytest.raises(Conflict, match="x-queue-type"):
                rabbitmq.create(name=queue)  # it is a quorum queue
        finally:
            amqp.close()
