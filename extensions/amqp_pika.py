"""The pika side of the AMQP extension (``extensions.amqp``), imported with the first
operation or readiness probe: connection parameters, each thread's client, and the
mapping of pika's exceptions to domain errors; this module is the one place that knows them.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import AMQPConnectorException
from pika.exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    AMQPError,
    ChannelClosedByBroker,
    ConnectionBlockedTimeout,
    NackError,
    StreamLostError,
    UnroutableError,
)

from core.errors import Conflict, DomainError, NotFound, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
UNAVAILABLE = "The message broker is unavailable; try again shortly."
# Channel-level refusals (AMQP reply codes) that are the client's doing, not an outage.
REFUSALS: dict[int, type[DomainError]] = {
    403: Conflict,  # ACCESS_REFUSED
    404: NotFound,  # NOT_FOUND
    405: Conflict,  # RESOURCE_LOCKED: an exclusive queue of another connection
    406: Conflict,  # PRECONDITION_FAILED: e.g. inequivalent queue arguments
}


def connection_parameters(config: Mapping, url: str | None = None) -> pika.URLParameters:
    """pika parameters for ``url`` (default: the single broker's URL); the timeout settings
    override any in the URL."""
    params = pika.URLParameters(url or config["AMQP_URL"])
    params.heartbeat = config["AMQP_HEARTBEAT"]
    _timeouts(params, config["AMQP_CONNECT_TIMEOUT"], config["AMQP_BLOCKED_TIMEOUT"])
    return params


def _timeouts(params: pika.URLParameters, connect: float, blocked: float) -> None:
    params.socket_timeout = connect
    params.stack_timeout = connect
    params.blocked_connection_timeout = blocked
    # One attempt: the caller answers 503 promptly and the next request tries again.
    params.connection_attempts = 1


def ping(nodes: list[pika.URLParameters], timeout: float) -> None:
    """Open and close a connection to any node, within ``timeout`` per node: a readiness probe."""
    nodes = [copy.copy(params) for params in nodes]
    for params in nodes:
        _timeouts(params, timeout, timeout)
    pika.BlockingConnection(nodes).close()


class Client:
    """A connection owned by one thread of one process, and its confirm-mode channel."""

    def __init__(self, connection: pika.BlockingConnection):
        self.connection = connection
        self.pid = os.getpid()
        self._channel: BlockingChannel | None = None

    @classmethod
    def open(cls, nodes: list[pika.URLParameters]) -> Client:
        thread = threading.current_thread().name
        nodes = [copy.copy(params) for params in nodes]
        for params in nodes:
            params.client_properties = {"connection_name": f"wdapi pid={os.getpid()} thread={thread}"}
        try:
            # pika tries each node in turn (one attempt each) and keeps the first that answers.
            return cls(pika.BlockingConnection(nodes))
        # A connector error (not an AMQPError) comes out of a single attempt, e.g. a handshake
        # timeout when something accepts the TCP connection but never speaks AMQP.
        except (AMQPError, AMQPConnectorException, OSError) as err:
            where = ", ".join(f"{params.host}:{params.port}" for params in nodes)
            log.warning("cannot connect to the message broker at %s: %r", where, err)
            raise Unavailable(UNAVAILABLE) from None

    def deadline(self, seconds: float) -> Callable[[], None]:
        """Cut the connection if an operation is still running after ``seconds``; returns
        the cancel function. pika's blocking calls have no timeout of their own, so a broker
        that hangs mid-call would block the request until heartbeats give up (minutes);
        this uses the I/O-loop timer and stream termination pika's heartbeat checker uses."""
        impl = self.connection._impl
        timer = impl._adapter_call_later(
            seconds, lambda: impl._terminate_stream(StreamLostError(f"no answer within {seconds} s"))
        )
        return lambda: impl._adapter_remove_timeout(timer)

    def channel(self) -> BlockingChannel:
        # A broker refusal (404, 406...) closes the channel but not the connection.
        if self._channel is None or not self._channel.is_open:
            self._channel = self.connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def drop_channel(self) -> None:
        """Close the channel; the next operation opens a new one."""
        channel, self._channel = self._channel, None
        if channel is not None and channel.is_open:
            try:
                channel.close()
            except (AMQPError, OSError):
                pass  # the connection check before the next operation handles it

    def alive(self) -> bool:
        """Process pending I/O: a socket the broker closed (restart, missed heartbeats) shows here."""
        if not self.connection.is_open:
            return False
        try:
            self.connection.process_data_events(time_limit=0)
        except (AMQPError, OSError):
            return False
        return self.connection.is_open

    def sleep(self, seconds: float) -> bool:
        """Wait on the connection, sending heartbeats; False when it is closed or failed."""
        if not self.connection.is_open:
            return False
        try:
            self.connection.sleep(seconds)
        except (AMQPError, OSError):
            return False
        return True

    def close(self) -> None:
        try:
            if self.connection.is_open:
                self.connection.close()
        except (AMQPError, OSError):
            pass  # already gone; pika has released the socket


class Connections(Protocol):
    """``extensions.amqp.Connections``, the per-app state, as this module uses it."""

    urls: list[str]
    operation_timeout: float
    local: threading.local

    @property
    def params(self) -> list[pika.URLParameters]: ...

    def current(self) -> Client | None: ...

    def discard(self) -> None: ...


def checkout(state: Connections) -> tuple[Client, bool]:
    """This thread's live client and whether it was opened just now.
    Raises Unavailable when RabbitMQ is disabled or cannot be reached."""
    if not state.urls:
        raise Unavailable("RabbitMQ is disabled on this server (AMQP_URL and RABBIT_HOST are empty).")
    client = state.current()
    if client is not None and client.alive():
        return client, False
    if client is not None:
        log.info("AMQP connection was dropped; reopening")
        state.discard()
    state.local.client = Client.open(state.params)
    return state.local.client, True


def _domain_error(err: AMQPError) -> DomainError | None:
    """The domain error for a pika exception, or None for a lost connection (worth a retry)."""
    if isinstance(err, ChannelClosedByBroker):
        return REFUSALS.get(err.reply_code, Unavailable)(err.reply_text)
    if isinstance(err, UnroutableError):
        keys = ", ".join(repr(m.method.routing_key) for m in err.messages)
        return NotFound(f"No queue takes routing key {keys}: the broker returned the message.")
    if isinstance(err, NackError):
        return Unavailable("The broker did not confirm the message; it may not have been stored.")
    if isinstance(err, ConnectionBlockedTimeout):
        return Unavailable("The broker is blocking publishers (resource alarm); try again later.")
    return None


def run(state: Connections, operation: Callable[[BlockingChannel], T], *, retry: bool) -> T:
    """``AMQP.run``: ``operation(channel)`` on this thread's connection, a connection found
    dropped reopened and the operation retried once. Raises NotFound, Conflict, Unavailable."""
    for attempt in (1, 2):
        client, fresh = checkout(state)
        cancel = client.deadline(state.operation_timeout)
        try:
            return operation(client.channel())
        except (AMQPConnectionError, AMQPChannelError, OSError) as err:
            error = _domain_error(err) if isinstance(err, AMQPError) else None
            if error is not None:
                if isinstance(err, ConnectionBlockedTimeout):
                    state.discard()
                elif isinstance(err, NackError):
                    # A channel can keep nacking after a quorum queue's leader died (seen
                    # for 15 s on RabbitMQ 3.10, where a new channel succeeded in 0.4 s).
                    client.drop_channel()
                raise error from None
            state.discard()
            if fresh or attempt == 2 or not retry:
                log.warning("AMQP operation failed on a lost connection: %r", err)
                raise Unavailable(UNAVAILABLE) from None
            log.info("AMQP connection lost (%r); reconnecting and retrying once", err)
        finally:
            cancel()
    raise AssertionError("unreachable")
