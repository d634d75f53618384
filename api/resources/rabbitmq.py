"""Namespace ``rabbitmq``: declare, inspect and delete queues; publish and get messages."""

from flask_restx import Namespace, Resource

from api.contract.operations import body, errors, operation_id, path, returns
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
    @operation_id("declare_queue")
    @returns(201, QueueOut, "Declared: the queue is new")
    @returns(200, QueueOut, "The queue already existed with these arguments")
    @body(QueueDeclare, required=False)
    @errors(409, 503)
    def put(self, name, body):
        """Declare a durable queue (idempotent; 409 if it exists with other arguments).

        201 when the queue is new, 200 when it already existed with the same arguments.
        """
        queue, created = rabbitmq.create(name=name, **body)
        return queue, 201 if created else 200

    @operation_id("get_queue")
    @returns(200, QueueOut, "The queue")
    @errors(400, 404, 503)
    def get(self, name):
        """Get a queue's message and consumer counts.

        404 when the broker has no such queue.
        """
        return rabbitmq.get(name=name)

    @operation_id("delete_queue")
    @returns(204, description="Deleted, with its messages")
    @errors(400, 404, 503)
    def delete(self, name):
        """Delete a queue.

        Its messages go with it; 404 when the broker has no such queue.
        """
        rabbitmq.delete(name=name)


@ns.route("/queues/<string:name>/messages", endpoint="rabbitmq_messages")
@path(QueuePath)
class QueueMessages(Resource):
    @operation_id("publish_message")
    @returns(202, MessageAccepted, "The broker confirmed the message (persistent)")
    @body(MessagePublish)
    @errors(404, 503)
    def post(self, name, body):
        """Publish a JSON message to a queue; 202 once the broker confirmed it.

        The message is persistent and carries a generated message id; 404 when there is no such queue.
        """
        message_id = rabbitmq.publish(name=name, **body)
        return {"queue": name, "message_id": message_id}, 202


@ns.route("/queues/<string:name>/messages/get", endpoint="rabbitmq_messages_get")
@path(QueuePath)
class QueueMessagesGet(Resource):
    @operation_id("take_messages")
    @returns(200, MessageList, "Up to count messages, now acknowledged")
    @body(MessagesGet, required=False)
    @errors(404, 503)
    def post(self, name, body):
        """Take up to count messages off a queue (acknowledged once in this response).

        Oldest first; fewer come back when the queue holds fewer, none when it is empty.
        """
        return {"messages": rabbitmq.get_messages(name=name, **body)}
