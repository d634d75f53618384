"""HTTP behaviour of /api/v1/rabbitmq against the real local RabbitMQ."""

import time

import pytest

from extensions import amqp
from tests.helpers.problems import assert_problem
from tests.helpers.rabbit import dead_url, unique

URL = "/api/v1/rabbitmq/queues"


@pytest.fixture
def rclient(sqlite_app, broker):
    yield sqlite_app.test_client()
    with sqlite_app.app_context():
        amqp.close()


def test_queue_lifecycle(rclient, broker):
    name = broker.track(unique())
    response = rclient.put(f"{URL}/{name}")  # no body, no content type
    assert response.status_code == 201
    assert response.get_json() == {"name": name, "messages": 0, "consumers": 0}
    assert rclient.put(f"{URL}/{name}", json={}).status_code == 200
    assert rclient.get(f"{URL}/{name}").get_json() == {"name": name, "messages": 0, "consumers": 0}
    response = rclient.delete(f"{URL}/{name}")
    assert response.status_code == 204 and response.data == b""
    assert_problem(rclient.get(f"{URL}/{name}"), 404)
    assert_problem(rclient.delete(f"{URL}/{name}"), 404)


def test_put_with_arguments_and_a_conflicting_redeclare(rclient, broker):
    name = broker.track(unique())
    body = {"max_length": 2, "message_ttl_ms": 60000}
    assert rclient.put(f"{URL}/{name}", json=body).status_code == 201
    assert rclient.put(f"{URL}/{name}", json=body).status_code == 200
    problem = assert_problem(rclient.put(f"{URL}/{name}", json={"max_length": 3}), 409)
    assert "inequivalent" in problem["detail"]
    # max_length is applied by the broker: the oldest message is dropped.
    for i in range(3):
        assert rclient.post(f"{URL}/{name}/messages", json={"body": i}).status_code == 202
    assert rclient.get(f"{URL}/{name}").get_json()["messages"] == 2


def test_the_tutorials_demo_queue(rclient, broker):
    # The tutorial's /rabitmq demo declares queuetest2; here it is a PUT.
    existed = broker.exists("queuetest2")
    response = rclient.put(f"{URL}/queuetest2")
    if not existed:
        broker.track("queuetest2")
        assert response.status_code == 201
    else:
        assert response.status_code in (200, 409)  # 409: declared non-durable elsewhere
    assert rclient.get(f"{URL}/queuetest2").status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"max_length": -1}, "max_length"),
        ({"max_length": "5"}, "max_length"),
        ({"message_ttl_ms": 1.5}, "message_ttl_ms"),
        ({"durable": False}, "durable"),
        ({"type": "stream"}, "type"),
        ({"type": "Quorum"}, "type"),
        # Every queue declared here is durable, non-exclusive and not auto-delete, as a quorum
        # queue must be: the fields to ask otherwise do not exist.
        ({"type": "quorum", "durable": False}, "durable"),
        ({"type": "quorum", "exclusive": True}, "exclusive"),
        ({"type": "quorum", "auto_delete": True}, "auto_delete"),
    ],
)
def test_put_rejects_bad_arguments(rclient, body, field):
    assert_problem(rclient.put(f"{URL}/{unique()}", json=body), 400, field)


def test_put_a_quorum_queue(rclient, broker):
    name = broker.track(unique())
    response = rclient.put(f"{URL}/{name}", json={"type": "quorum", "max_length": 10})
    assert response.status_code == 201
    assert rclient.put(f"{URL}/{name}", json={"type": "quorum", "max_length": 10}).status_code == 200
    # A classic declare (the default type) of a quorum queue: the broker's inequivalence.
    problem = assert_problem(rclient.put(f"{URL}/{name}", json={"max_length": 10}), 409)
    assert "x-queue-type" in problem["detail"]
    assert rclient.post(f"{URL}/{name}/messages", json={"body": 1}).status_code == 202
    assert rclient.get(f"{URL}/{name}").get_json()["messages"] == 1


def test_put_with_a_non_json_body_is_415(rclient):
    response = rclient.put(f"{URL}/{unique()}", data="max_length=5", content_type="text/plain")
    assert_problem(response, 415)


@pytest.mark.parametrize("name", ["amq.custom", "has%20space", "x" * 201, "caf%C3%A9", "star*"])
def test_bad_queue_names_are_400_on_every_endpoint(rclient, name):
    for response in (
        rclient.put(f"{URL}/{name}"),
        rclient.get(f"{URL}/{name}"),
        rclient.delete(f"{URL}/{name}"),
        rclient.post(f"{URL}/{name}/messages", json={"body": 1}),
        rclient.post(f"{URL}/{name}/messages/get"),
    ):
        assert_problem(response, 400, "name")


def test_publish_then_get_round_trip(rclient, broker):
    name = broker.queue(durable=True)
    response = rclient.post(f"{URL}/{name}/messages", json={"body": {"a": [1, None]}, "headers": {"h": "v"}})
    assert response.status_code == 202
    accepted = response.get_json()
    assert accepted["queue"] == name and len(accepted["message_id"]) == 36
    assert rclient.post(f"{URL}/{name}/messages", json={"body": "two"}).status_code == 202
    response = rclient.post(f"{URL}/{name}/messages/get", json={"count": 5})
    assert response.status_code == 200
    assert response.get_json() == {
        "messages": [
            {"body": {"a": [1, None]}, "headers": {"h": "v"}, "redelivered": False},
            {"body": "two", "headers": {}, "redelivered": False},
        ]
    }
    assert rclient.get(f"{URL}/{name}").get_json()["messages"] == 0


def test_get_defaults_to_one_message(rclient, broker):
    name = broker.queue(durable=True)
    for i in range(2):
        rclient.post(f"{URL}/{name}/messages", json={"body": i})
    assert [m["body"] for m in rclient.post(f"{URL}/{name}/messages/get").get_json()["messages"]] == [0]
    assert rclient.get(f"{URL}/{name}").get_json()["messages"] == 1


@pytest.mark.parametrize("count", [0, 101, "1", True, None])
def test_get_rejects_a_bad_count(rclient, count):
    assert_problem(rclient.post(f"{URL}/{unique()}/messages/get", json={"count": count}), 400, "count")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "body"),
        ({"body": 1, "headers": {"h": 1}}, "headers.h.value"),
        ({"body": 1, "headers": "x"}, "headers"),
        ({"body": 1, "priority": 9}, "priority"),
    ],
)
def test_publish_rejects_bad_bodies(rclient, body, field):
    assert_problem(rclient.post(f"{URL}/{unique()}/messages", json=body), 400, field)


@pytest.mark.parametrize("raw", ['{"body": NaN}', '{"body": [1e999]}', '{"body": {"x": -Infinity}}'])
def test_publish_rejects_nan_and_infinity(rclient, broker, raw):
    # Python's JSON parser accepts them; they are not JSON and must not reach a queue.
    name = broker.queue(durable=True)
    response = rclient.post(f"{URL}/{name}/messages", data=raw, content_type="application/json")
    assert "not valid JSON" in assert_problem(response, 400)["detail"]
    assert broker.drain(name) == []


def test_publish_and_get_on_a_missing_queue_are_404(rclient):
    name = unique("missing")
    assert (
        "returned" in assert_problem(rclient.post(f"{URL}/{name}/messages", json={"body": 1}), 404)["detail"]
    )
    assert_problem(rclient.post(f"{URL}/{name}/messages/get"), 404)


def test_broker_down_answers_503_promptly_on_every_endpoint(make_app):
    client = make_app(AMQP_URL=dead_url()).test_client()
    name = unique()
    calls = (
        lambda: client.put(f"{URL}/{name}"),
        lambda: client.get(f"{URL}/{name}"),
        lambda: client.delete(f"{URL}/{name}"),
        lambda: client.post(f"{URL}/{name}/messages", json={"body": 1}),
        lambda: client.post(f"{URL}/{name}/messages/get", json={"count": 2}),
    )
    for call in calls:
        started = time.monotonic()
        problem = assert_problem(call(), 503)
        assert time.monotonic() - started < 2
        assert "broker" in problem["detail"]


def test_the_spec_documents_the_namespace(sqlite_app):
    from swagger_export import build_spec

    paths = build_spec(sqlite_app)["paths"]
    item = paths["/rabbitmq/queues/{name}"]
    assert {"put", "get", "delete"} <= item.keys()
    assert {"200", "201", "409", "503"} <= item["put"]["responses"].keys()
    assert [p["required"] for p in item["put"]["parameters"] if p["in"] == "body"] == [False]
    declare = build_spec(sqlite_app)["definitions"]["QueueDeclare"]["properties"]
    assert declare["type"]["enum"] == ["classic", "quorum"] and declare["type"]["default"] == "classic"
    assert "202" in paths["/rabbitmq/queues/{name}/messages"]["post"]["responses"]
    assert "200" in paths["/rabbitmq/queues/{name}/messages/get"]["post"]["responses"]
