"""A three-node RabbitMQ cluster of the test's own: the node the app is connected to is
SIGKILLed; the relay and the queue endpoints' service reconnect to a surviving node, and
what they report as confirmed is on the quorum queues (a majority survived)."""

from __future__ import annotations

import json

import pika
import pytest

from extensions import amqp
from services import outbox, rabbitmq, wdtests
from tests.helpers.cluster.procs import until_available
from tests.helpers.cluster.rabbitmq import RabbitCluster
from tests.helpers.rabbit import unique

RECOVERY_BOUND = 15.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = RabbitCluster(tmp_path_factory.mktemp("rabbit"), size=3)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def until(action):
    return until_available(action, RECOVERY_BOUND, interval=0.05)


def take_all(url: str, queue: str) -> list[dict]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        bodies = []
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(json.loads(body))
    finally:
        connection.close()


def test_killing_the_connected_node_moves_the_relay_and_the_api_to_a_survivor(cluster, make_app, capsys):
    events, api_queue = unique("test.events.q"), unique("test-q")
    app = make_app(
        AMQP_URLS=cluster.amqp_urls,
        WDTEST_EVENTS_EXCHANGE=unique("test.events"),
        WDTEST_EVENTS_QUEUE=events,
        WDTEST_EVENTS_QUEUE_TYPE="quorum",
    )
    with app.app_context():
        try:
            wdtests.create(data={"id": "k1", "name": "before"})
            assert outbox.relay() == 1  # on node 0, the first URL: it leads both queues
            rabbitmq.create(name=api_queue, queue_type="quorum")
            rabbitmq.publish(name=api_queue, body="before")

            killed = cluster.kill(cluster.nodes[0])
            wdtests.update(wdtest_id="k1", changes={"name": "after"})
            sent, relayed = until(outbox.relay)
            _, published = until(lambda: rabbitmq.publish(name=api_queue, body="after"))
        finally:
            amqp.close()
        assert sent == 1 and outbox.get_pending_count() == 0
    with capsys.disabled():
        print(
            f"\nRabbitMQ node SIGKILLed: relay confirmed on a survivor after {relayed - killed:.2f} s,"
            f" the queue API after {published - killed:.2f} s"
        )
    # Every confirmed message is on the survivors, in order.
    assert [e["type"] for e in take_all(cluster.nodes[1].url, events)] == ["wdtest.created", "wdtest.updated"]
    assert take_all(cluster.nodes[2].url, api_queue) == ["before", "after"]
    assert relayed - killed < RECOVERY_BOUND
