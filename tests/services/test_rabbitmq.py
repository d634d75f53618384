"""services.rabbitmq and the AMQP extension against the real local RabbitMQ."""

import os
import time
from contextlib import contextmanager

import pika
import pytest

from core.errors import Conflict, InvalidInput, NotFound, Unavailable
from extensions import amqp
from services import rabbitmq
from tests.helpers.rabbit import Proxy, dead_url, require_broker, silent_url, unique


@pytest.fixture
def ctx(sqlite_app, broker):
    with sqlite_app.app_context():
        yield sqlite_app
        amqp.close()


@pytest.fixture
def proxy():
    require_broker()
    proxy = Proxy()
    yield proxy
    proxy.stop()


@contextmanager
def app_with_broker_at(make_app, url):
    app = make_app(AMQP_URL=url)
    with app.app_context():
        try:
            yield app
        finally:
            amqp.close()


@pytest.fixture
def proxied(make_app, proxy, broker):
    """An app whose broker connections go through ``proxy``."""
    with app_with_broker_at(make_app, proxy.url) as app:
        yield app


@pytest.fixture
def dead(make_app):
    """An app whose broker is a loopback port nothing listens on."""
    with app_with_broker_at(make_app, dead_url()) as app:
        yield app


def test_create_declares_a_durable_queue_once(ctx, broker):
    name = broker.track(unique())
    queue, created = rabbitmq.create(name=name)
    assert created and queue == rabbitmq.Queue(name=name, messages=0, consumers=0)
    assert rabbitmq.create(name=name)[1] is False
    # Durable: a non-durable redeclare is inequivalent.
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        broker.connection.channel().queue_declare(name, durable=False)
    assert err.value.reply_code == 406


def test_create_with_conflicting_arguments_is_conflict_and_the_channel_recovers(ctx, broker):
    name = broker.track(unique())
    rabbitmq.create(name=name, max_length=10, message_ttl_ms=60000)
    assert rabbitmq.create(name=name, max_length=10, message_ttl_ms=60000)[1] is False
    with pytest.raises(Conflict) as err:
        rabbitmq.create(name=name, max_length=5)
    assert "inequivalent arg" in err.value.detail
    with pytest.raises(Conflict):  # absent arguments differ from present ones too
        rabbitmq.create(name=name)
    # The broker closed the channel on PRECONDITION_FAILED; the next call reopens it.
    assert rabbitmq.get(name=name).messages == 0


def test_create_over_a_non_durable_queue_is_conflict(ctx, broker):
    name = broker.queue(durable=False)  # as the tutorial's demo declares queuetest2
    with pytest.raises(Conflict):
        rabbitmq.create(name=name)


def test_get_and_delete(ctx, broker):
    name = broker.queue(durable=True)
    broker.channel.basic_publish("", name, b"{}")
    assert rabbitmq.get(name=name) == rabbitmq.Queue(name=name, messages=1, consumers=0)
    rabbitmq.delete(name=name)
    assert not broker.exists(name)
    with pytest.raises(NotFound):
        rabbitmq.get(name=name)
    with pytest.raises(NotFound):
        rabbitmq.delete(name=name)


def test_publish_is_confirmed_persistent_json(ctx, broker):
    name = broker.queue(durable=True)
    message_id = rabbitmq.publish(name=name, body={"n": [1, "é"]}, headers={"k": "v"})
    [(properties, body)] = broker.drain(name)
    assert body == {"n": [1, "é"]}
    assert properties.delivery_mode == 2 and properties.content_type == "application/json"
    assert properties.message_id == message_id and properties.headers == {"k": "v"}


def test_publish_to_a_missing_queue_is_not_found(ctx):
    with pytest.raises(NotFound) as err:
        rabbitmq.publish(name=unique("missing"), body=1)
    assert "returned" in err.value.detail


def test_get_messages_takes_at_most_count_in_order_and_acks_them(ctx, broker):
    name = broker.queue(durable=True)
    for i in range(3):
        rabbitmq.publish(name=name, body=i)
    first = rabbitmq.get_messages(name=name, count=2)
    assert [m["body"] for m in first] == [0, 1]
    assert all(m["redelivered"] is False and m["headers"] == {} for m in first)
    assert [m["body"] for m in rabbitmq.get_messages(name=name, count=100)] == [2]
    assert rabbitmq.get_messages(name=name) == []
    assert rabbitmq.get(name=name).messages == 0  # acknowledged, not merely delivered


def test_non_json_bodies_come_back_as_text_or_base64(ctx, broker):
    name = broker.queue(durable=True)
    broker.channel.basic_publish("", name, b"plain words")
    broker.channel.basic_publish("", name, b"\xff\x00")
    text, binary = rabbitmq.get_messages(name=name, count=2)
    assert (text["body"], text["body_encoding"]) == ("plain words", "text")
    assert (binary["body"], binary["body_encoding"]) == ("/wA=", "base64")


def test_a_body_with_nan_comes_back_as_text(ctx, broker):
    # Another publisher's NaN must not make the API answer invalid JSON.
    name = broker.queue(durable=True)
    broker.channel.basic_publish("", name, b'{"x": NaN}')
    (message,) = rabbitmq.get_messages(name=name)
    assert (message["body"], message["body_encoding"]) == ('{"x": NaN}', "text")


def test_a_failure_while_building_the_list_leaves_every_message_on_the_queue(ctx, broker, monkeypatch):
    name = broker.queue(durable=True)
    for i in range(3):
        rabbitmq.publish(name=name, body=i)
    real = rabbitmq.message_out
    calls = []

    def fails_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated failure while building the response")
        return real(*args)

    monkeypatch.setattr(rabbitmq, "message_out", fails_on_second)
    with pytest.raises(RuntimeError):
        rabbitmq.get_messages(name=name, count=3)
    monkeypatch.undo()
    again = rabbitmq.get_messages(name=name, count=10)
    assert [m["body"] for m in again] == [0, 1, 2]
    assert again[0]["redelivered"] is True


def test_invalid_names_never_reach_the_broker(dead):
    for call in (rabbitmq.get, rabbitmq.delete, rabbitmq.create):
        with pytest.raises(InvalidInput):
            call(name="amq.gen-1")
    with pytest.raises(InvalidInput):
        rabbitmq.publish(name="bad name", body=1)


def test_broker_down_is_unavailable_promptly(dead):
    started = time.monotonic()
    with pytest.raises(Unavailable):
        rabbitmq.get(name="queuetest2")
    assert time.monotonic() - started < 2


def test_a_broker_that_never_answers_the_handshake_is_unavailable_promptly(make_app):
    # pika reports a handshake timeout as a connector error, not an AMQPError.
    with silent_url() as url:
        with app_with_broker_at(make_app, url):
            started = time.monotonic()
            with pytest.raises(Unavailable):
                rabbitmq.get(name="queuetest2")
            assert time.monotonic() - started < 2


def test_a_dropped_connection_is_detected_and_reopened(proxied, proxy, broker):
    name = broker.queue(durable=True)
    state = proxied.extensions["wdapi.amqp"]
    rabbitmq.get(name=name)
    before = state.current()
    proxy.drop()  # as a broker restart or a missed-heartbeat close does
    assert rabbitmq.get(name=name).name == name
    assert state.current() is not before and state.current().connection.is_open


def test_an_operation_that_meets_a_lost_connection_is_retried_once(proxied, proxy, broker):
    name = broker.queue(durable=True)
    rabbitmq.get(name=name)  # a cached, healthy connection
    calls = []

    def operation(channel):
        calls.append(channel)
        if len(calls) == 1:
            proxy.drop()  # the link dies under the operation
        return channel.queue_declare(name, passive=True).method.queue

    assert amqp.run(operation) == name
    assert len(calls) == 2 and calls[0] is not calls[1]


def test_a_second_loss_is_unavailable(proxied, proxy, broker):
    name = broker.queue(durable=True)
    rabbitmq.get(name=name)
    calls = []

    def operation(channel):
        calls.append(channel)
        proxy.drop()
        return channel.queue_declare(name, passive=True)

    with pytest.raises(Unavailable):
        amqp.run(operation)
    assert len(calls) == 2


def test_broker_gone_after_connecting_is_unavailable_promptly(proxied, proxy, broker):
    name = broker.queue(durable=True)
    rabbitmq.get(name=name)
    proxy.stop()  # the cached link dies and reconnecting is refused
    started = time.monotonic()
    with pytest.raises(Unavailable):
        rabbitmq.get(name=name)
    assert time.monotonic() - started < 2


def test_a_broker_that_hangs_mid_operation_is_unavailable_not_a_hang(proxied, proxy, broker):
    name = broker.queue(durable=True)
    rabbitmq.get(name=name)  # a cached connection, open and healthy
    proxy.freeze()  # the broker stops answering; the TCP links stay open
    timeout = proxied.config["AMQP_OPERATION_TIMEOUT"]
    started = time.monotonic()
    with pytest.raises(Unavailable):
        rabbitmq.get(name=name)
    # The operation's deadline, then one reconnect attempt that times out too.
    assert time.monotonic() - started < timeout + proxied.config["AMQP_CONNECT_TIMEOUT"] + 2


def test_operations_within_the_deadline_are_untouched(proxied, broker):
    name = broker.queue(durable=True)
    for _ in range(3):
        assert rabbitmq.get(name=name).name == name


def test_each_thread_has_its_own_connection(ctx, broker):
    import threading

    name = broker.queue(durable=True)
    state = ctx.extensions["wdapi.amqp"]
    rabbitmq.get(name=name)
    seen = {}

    def work():
        with ctx.app_context():
            rabbitmq.get(name=name)
            seen["thread"] = state.current().connection
            amqp.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert seen["thread"] is not state.current().connection


def test_a_forked_child_opens_its_own_connection(ctx, broker):
    name = broker.queue(durable=True)
    rabbitmq.get(name=name)
    parent = ctx.extensions["wdapi.amqp"].current()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: must not touch the parent's socket
        try:
            with ctx.app_context():
                ok = rabbitmq.get(name=name).name == name
                ok = ok and ctx.extensions["wdapi.amqp"].current() is not parent
                amqp.close()
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 2) == b"ok"
    os.close(read)
    os.waitpid(pid, 0)
    # The parent's connection was not disturbed by the child.
    assert rabbitmq.get(name=name).name == name
    assert ctx.extensions["wdapi.amqp"].current() is parent
