"""Namespace ``rabbitmq``: declare, inspect and delete queues; publish and get messages."""

from flask_restx import Namespace, Resource

from api.contract.operations import body, errors, path, returns
from api.schemas.rabbitmq import (
    MessageAccepted,
    MessageList,
    MessagePublish,
    MessagesGet,
    QueueDeclare,
    QueueOut,
    QueuePath,
)
from services import rabbitmq

ns = Namespace("rabbitmq", description="RabbitMQ queues and messages", path="/rabbitmq")


@ns.route("/queues/<string:name>", endpoint="rabbitmq_queue")
@path(QueuePath)
class QueueItem(Resource):
    @returns(201, QueueOut, "Declared: the queue is new")
    @returns(200, QueueOut, "The queue already existed with these arguments")
    @body(QueueDeclare, required=False)
    @errors(409, 503)
    def put(self, name, body):
        """Declare a durable queue (idempotent; 409 if it exists with other arguments)."""
        queue, created = rabbitmq.create(name=name, **body)
        return queue, 201 if created else 200

    @returns(200, QueueOut, "The queue")
    @errors(400, 404, 503)
    def get(self, name):
        """Get a queue's message and consumer counts."""
        return rabbitmq.get(name=name)

    @returns(204, description="Deleted, with its messages")
    @errors(400, 404, 503)
    def delete(self, name):
        """Delete a queue."""
        rabbitmq.delete(name=name)


@ns.route("/queues/<string:name>/messages", endpoint="rabbitmq_messages")
@path(QueuePath)
class QueueMessages(Resource):
    @returns(202, MessageAccepted, "The broker confirmed the message (persistent)")
    @body(MessagePublish)
    @errors(404, 503)
    def post(self, name, body):
        """Publish a JSON message to a queue; 202 once the broker confirmed it."""
        message_id = rabbitmq.publish(name=name, **body)
        return {"queue": name, "message_id": message_id}, 202


@ns.route("/queues/<string:name>/messages/get", endpoint="rabbitmq_messages_get")
@path(QueuePath)
class QueueMessagesGet(Resource):
    @returns(200, MessageList, "Up to count messages, now acknowledged")
    @body(MessagesGet, required=False)
    @errors(404, 503)
    def post(self, name, body):
        """Take up to count messages off a queue (acknowledged once in this response)."""
        return {"messages": rabbitmq.get_messages(name=name, **body)}
