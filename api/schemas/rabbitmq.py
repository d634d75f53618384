"""RabbitMQ schemas, named by direction: QueueDeclare/MessagePublish/MessagesGet in,
QueuePath for the URL, the rest out."""

from marshmallow import RAISE, Schema, fields
from marshmallow.validate import Length, OneOf, Range

from api.schemas.fields import FullMatch, StrictInteger, Text
from services.rabbitmq import GET_MAX, QUEUE_NAME_MAX_LENGTH, QUEUE_NAME_PATTERN, QUEUE_NAME_RULE
from settings.declaration import QUEUE_TYPES

HEADER_NAME_MAX_LENGTH = 128  # AMQP field names are short strings
HEADER_VALUE_MAX_LENGTH = 4096
HEADERS_MAX = 64
INT32_MAX = 2**31 - 1


class QueuePath(Schema):
    # The service's own pattern: the documents derive it from this validator.
    name = fields.String(
        validate=FullMatch(QUEUE_NAME_PATTERN),
        # maxLength too, for clients that size a field by it (the pattern enforces it).
        metadata={
            "description": f"Queue name: {QUEUE_NAME_RULE}",
            "example": "queuetest2",
            "maxLength": QUEUE_NAME_MAX_LENGTH,
        },
    )


class QueueDeclare(Schema):
    """Optional queue arguments for PUT; the body itself is optional."""

    class Meta:
        unknown = RAISE

    max_length = StrictInteger(
        validate=Range(min=0, max=INT32_MAX),
        metadata={
            "description": "x-max-length: messages kept; the oldest are dropped beyond it",
            "example": 1000,
        },
    )
    message_ttl_ms = StrictInteger(
        validate=Range(min=0, max=INT32_MAX),
        metadata={"description": "x-message-ttl: milliseconds a message may wait", "example": 60000},
    )
    queue_type = fields.String(
        data_key="type",
        load_default="classic",
        validate=OneOf(QUEUE_TYPES),
        metadata={
            "description": "x-queue-type: classic (one node), or quorum (replicated on a majority"
            " of a cluster's nodes; a publish is confirmed once a majority stored it)",
            "example": "quorum",
        },
    )


class QueueOut(Schema):
    """A queue as the broker reports it."""

    name = fields.String(required=True, metadata={"example": "queuetest2"})
    messages = fields.Integer(
        required=True, metadata={"description": "Messages ready for delivery", "example": 3}
    )
    consumers = fields.Integer(required=True, metadata={"example": 0})


class MessagePublish(Schema):
    """A message to publish: any JSON body and optional string headers."""

    class Meta:
        unknown = RAISE

    body = fields.Raw(
        required=True,
        allow_none=True,
        # No type in the documents: generators then accept any JSON value, not an object.
        metadata={"description": "Any JSON value: object, array, string, number, boolean or null"},
    )
    headers = fields.Dict(
        keys=Text(validate=Length(min=1, max=HEADER_NAME_MAX_LENGTH)),
        values=Text(validate=Length(max=HEADER_VALUE_MAX_LENGTH)),
        validate=Length(max=HEADERS_MAX),
        metadata={"description": f"Up to {HEADERS_MAX} string headers", "example": {"source": "docs"}},
    )


class MessageAccepted(Schema):
    """The broker confirmed the message."""

    queue = fields.String(required=True, metadata={"example": "queuetest2"})
    message_id = fields.String(
        required=True,
        metadata={
            "description": "The AMQP message-id property",
            "example": "8f14e45fceea167a5a36dedd4bea2543",
        },
    )


class MessagesGet(Schema):
    """How many messages to take (the body is optional)."""

    class Meta:
        unknown = RAISE

    count = StrictInteger(
        load_default=1,
        validate=Range(min=1, max=GET_MAX),
        metadata={"description": f"1-{GET_MAX}; fewer come back when the queue has fewer", "example": 1},
    )


class MessageOut(Schema):
    """A message taken from a queue (and acknowledged)."""

    body = fields.Raw(
        required=True,
        allow_none=True,
        metadata={"description": "The JSON body, parsed: any JSON value (no type, like the published one)"},
    )
    body_encoding = fields.String(
        validate=OneOf(["text", "base64"]),
        metadata={"description": "Present only for a body that is not JSON: text, or base64 for binary"},
    )
    headers = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "The string headers it was published with", "example": {"source": "docs"}},
    )
    redelivered = fields.Boolean(
        required=True, metadata={"description": "Delivered before and not acknowledged"}
    )


class MessageList(Schema):
    """Messages taken from a queue, oldest first."""

    messages = fields.List(fields.Nested(MessageOut), required=True)
