"""RabbitMQ queues: declare, get, delete, publish to and get messages from a queue.

Every broker call goes through ``amqp.run`` (one connection per thread, a dropped
connection reopened and retried once, pika errors mapped to domain errors).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import InvalidInput, NotFound
from extensions import amqp
from settings.declaration import QUEUE_TYPES

if TYPE_CHECKING:
    import pika
    from pika.adapters.blocking_connection import BlockingChannel

QUEUE_NAME_MAX_LENGTH = 200
RESERVED_PREFIX = "amq."
QUEUE_NAME_RULE = (
    f"1-{QUEUE_NAME_MAX_LENGTH} characters from [A-Za-z0-9._:-], not '.' or '..', not starting with 'amq.'"
)
# The whole rule as one pattern, so the documents state exactly what is enforced. "." and
# ".." are path segments that clients collapse: such a queue could never be addressed.
QUEUE_NAME_PATTERN = (
    rf"^(?!{re.escape(RESERVED_PREFIX)})(?!\.\.?$)[A-Za-z0-9._:-]{{1,{QUEUE_NAME_MAX_LENGTH}}}$"
)
_QUEUE_NAME = re.compile(QUEUE_NAME_PATTERN)
GET_MAX = 100


@dataclass(frozen=True)
class Queue:
    name: str
    messages: int
    consumers: int


def check_name(name: str) -> None:
    """Raises InvalidInput unless ``name`` is a queue name clients may use."""
    if name.startswith(RESERVED_PREFIX):
        message = "Names starting with 'amq.' are reserved by the broker."
        raise InvalidInput(f"Invalid queue name: {message}", {"name": [message]})
    if not _QUEUE_NAME.fullmatch(name):
        raise InvalidInput(
            f"Invalid queue name: must be {QUEUE_NAME_RULE}.", {"name": [f"Must be {QUEUE_NAME_RULE}."]}
        )


def get(*, name: str) -> Queue:
    """The queue's message and consumer counts (passive declare).
    Raises InvalidInput, NotFound, Unavailable."""
    check_name(name)
    ok = amqp.run(lambda channel: channel.queue_declare(name, passive=True))
    return Queue(name=name, messages=ok.method.message_count, consumers=ok.method.consumer_count)


def queue_arguments(queue_type: str) -> dict[str, Any]:
    """The declare arguments of a queue type. A quorum queue is replicated on a majority of
    a cluster's nodes, and must be durable, non-exclusive and not auto-delete (as every
    queue declared here is); classic passes no argument, so queues declared before
    types existed stay equivalent."""
    if queue_type not in QUEUE_TYPES:
        message = f"Must be one of {', '.join(QUEUE_TYPES)}."
        raise InvalidInput(f"Invalid queue type: {message}", {"type": [message]})
    return {"x-queue-type": queue_type} if queue_type != "classic" else {}


def create(
    *,
    name: str,
    max_length: int | None = None,
    message_ttl_ms: int | None = None,
    queue_type: str = "classic",
) -> tuple[Queue, bool]:
    """Declare a durable queue of ``queue_type``; return it and whether it is new.
    Raises InvalidInput, Conflict (exists with other arguments, another type, or not
    durable), Unavailable."""
    check_name(name)
    arguments = queue_arguments(queue_type)
    if max_length is not None:
        arguments["x-max-length"] = max_length
    if message_ttl_ms is not None:
        arguments["x-message-ttl"] = message_ttl_ms
    try:
        get(name=name)
        created = False
    except NotFound:
        created = True  # two clients racing here may both see 201; the queue is the same
    ok = amqp.run(lambda channel: channel.queue_declare(name, durable=True, arguments=arguments or None))
    return Queue(name=name, messages=ok.method.message_count, consumers=ok.method.consumer_count), created


def delete(*, name: str) -> None:
    """Delete a queue and its messages. Raises InvalidInput, NotFound, Unavailable."""
    get(name=name)  # the broker deletes a missing queue silently; the API answers 404
    amqp.run(lambda channel: channel.queue_delete(name))


def publish(*, name: str, body: Any, headers: Mapping[str, str] | None = None) -> str:
    """Publish ``body`` as persistent JSON to queue ``name``; return once the broker confirmed
    it, with the message id. Raises InvalidInput, NotFound (no such queue), Unavailable."""
    import pika  # as amqp.run would: with the first AMQP call (extensions.amqp)

    check_name(name)
    message_id = str(uuid.uuid4())
    properties = pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=message_id,
        timestamp=int(time.time()),
        headers=dict(headers) if headers else None,
    )
    try:
        # NaN and Infinity are not JSON: Python's parser lets them in, consumers would choke.
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        message = "NaN and Infinity are not JSON numbers."
        raise InvalidInput(f"Invalid message body: {message}", {"body": [message]}) from None
    # mandatory: an unroutable message comes back (404) instead of vanishing.
    amqp.run(lambda channel: channel.basic_publish("", name, data, properties, mandatory=True))
    return message_id


def _plain(value):
    """AMQP header values (bytes, nested tables) as JSON-friendly values."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")  # so such a body comes back as text


def message_out(method, properties: pika.BasicProperties, body: bytes) -> dict:
    """One message as the API returns it: JSON bodies parsed, others as text or base64."""
    message = {
        "headers": _plain(properties.headers or {}),
        "redelivered": bool(method.redelivered),
    }
    try:
        message["body"] = json.loads(body, parse_constant=_not_json)
    except ValueError:
        try:
            message["body"], message["body_encoding"] = body.decode("utf-8"), "text"
        except UnicodeDecodeError:
            message["body"], message["body_encoding"] = base64.b64encode(body).decode(), "base64"
    return message


def get_messages(*, name: str, count: int = 1) -> list[dict]:
    """Take up to ``count`` messages from queue ``name``. They are acknowledged only after
    all are in the list; on any failure before that they stay on the queue.
    Raises InvalidInput, NotFound, Unavailable."""
    check_name(name)
    count = max(1, min(count, GET_MAX))

    def take(channel: BlockingChannel) -> list[dict]:
        messages: list[dict] = []
        last_tag = None
        try:
            for _ in range(count):
                method, properties, body = channel.basic_get(name, auto_ack=False)
                if method is None:
                    break
                last_tag = method.delivery_tag
                messages.append(message_out(method, properties, body))
        except BaseException:
            if last_tag is not None and channel.is_open:
                channel.basic_nack(last_tag, multiple=True, requeue=True)
            raise
        if last_tag is not None:
            channel.basic_ack(last_tag, multiple=True)
        return messages

    return amqp.run(take)
