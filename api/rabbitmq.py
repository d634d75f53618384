"""Namespace ``rabbitmq``: declare, inspect and delete queues; publish and get messages."""

from flask_restx import Namespace, Resource

from api.openapi import error_responses, register_models
from api.parsing import load_body, load_optional_body
from api.schemas.rabbitmq import (
    MessageAccepted,
    MessageList,
    MessageOut,
    MessagePublish,
    MessagesGet,
    QueueDeclare,
    QueueOut,
    message_accepted,
    message_list,
    message_publish,
    messages_get,
    queue_declare,
    queue_out,
)
from services import rabbitmq
from services.rabbitmq import QUEUE_NAME_RULE

ns = Namespace("rabbitmq", description="RabbitMQ queues and messages", path="/rabbitmq")
models = register_models(
    ns,
    {
        "QueueDeclare": QueueDeclare,
        "QueueOut": QueueOut,
        "MessagePublish": MessagePublish,
        "MessageAccepted": MessageAccepted,
        "MessagesGet": MessagesGet,
        "MessageOut": MessageOut,
        "MessageList": MessageList,
    },
)


def optional_body(model_name: str) -> dict:
    # ns.expect marks the body required; these bodies may be left out.
    ref = {"$ref": f"#/definitions/{model_name}"}
    return {"params": {"payload": {"in": "body", "required": False, "schema": ref}}}


@ns.route("/queues/<string:name>", endpoint="rabbitmq_queue")
@ns.param("name", f"Queue name: {QUEUE_NAME_RULE}")
class QueueItem(Resource):
    @ns.doc(**optional_body("QueueDeclare"))
    @ns.response(201, "Declared: the queue is new", models["QueueOut"])
    @ns.response(200, "The queue already existed with these arguments", models["QueueOut"])
    @error_responses(ns, 400, 409, 413, 415, 503)
    def put(self, name):
        """Declare a durable queue (idempotent; 409 if it exists with other arguments)."""
        queue, created = rabbitmq.create(name=name, **load_optional_body(queue_declare))
        return queue_out.dump(queue), 201 if created else 200

    @ns.response(200, "The queue", models["QueueOut"])
    @error_responses(ns, 400, 404, 503)
    def get(self, name):
        """Get a queue's message and consumer counts."""
        return queue_out.dump(rabbitmq.get(name=name))

    @ns.response(204, "Deleted, with its messages")
    @error_responses(ns, 400, 404, 503)
    def delete(self, name):
        """Delete a queue."""
        rabbitmq.delete(name=name)
        return "", 204


@ns.route("/queues/<string:name>/messages", endpoint="rabbitmq_messages")
@ns.param("name", f"Queue name: {QUEUE_NAME_RULE}")
class QueueMessages(Resource):
    @ns.expect(models["MessagePublish"])
    @ns.response(202, "The broker confirmed the message (persistent)", models["MessageAccepted"])
    @error_responses(ns, 400, 404, 413, 415, 503)
    def post(self, name):
        """Publish a JSON message to a queue; 202 once the broker confirmed it."""
        message_id = rabbitmq.publish(name=name, **load_body(message_publish))
        return message_accepted.dump({"queue": name, "message_id": message_id}), 202


@ns.route("/queues/<string:name>/messages/get", endpoint="rabbitmq_messages_get")
@ns.param("name", f"Queue name: {QUEUE_NAME_RULE}")
class QueueMessagesGet(Resource):
    @ns.doc(**optional_body("MessagesGet"))
    @ns.response(200, "Up to count messages, now acknowledged", models["MessageList"])
    @error_responses(ns, 400, 404, 413, 415, 503)
    def post(self, name):
        """Take up to count messages off a queue (acknowledged once in this response)."""
        args = load_optional_body(messages_get)
        return message_list.dump({"messages": rabbitmq.get_messages(name=name, **args)})
