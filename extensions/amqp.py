"""The AMQP extension: one pika ``BlockingConnection`` per process and thread, opened on first use.

pika's blocking connection is not thread-safe and must never cross a fork, so
``init_app`` only reads settings and each thread opens its own connection lazily;
a connection inherited from a parent process is never touched. ``run`` hands an
operation a channel in publisher-confirm mode, reopens a dropped connection,
retries the operation once, and turns pika's exceptions into domain errors: this
module is the one place that knows them.

With ``AMQP_URLS`` (a cluster's nodes) every connection is opened by pika trying the
URLs in turn, one attempt each: a dead node costs a refused connect (or at most
``AMQP_CONNECT_TIMEOUT`` when it does not answer), and a connection lost with its node is
reopened on the first node that answers, as any dropped connection is.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import pika
from flask import Flask, current_app
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
EXTENSION = "wdapi.amqp"
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


def node_parameters(config: Mapping) -> list[pika.URLParameters]:
    """One set of parameters per ``AMQP_URLS`` node, else the single broker's; empty when
    RabbitMQ is disabled."""
    if config.get("AMQP_URLS"):
        return [connection_parameters(config, url) for url in config["AMQP_URLS"]]
    return [connection_parameters(config)] if config["AMQP_URL"] else []


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


class _Client:
    """A connection owned by one thread of one process, and its confirm-mode channel."""

    def __init__(self, connection: pika.BlockingConnection):
        self.connection = connection
        self.pid = os.getpid()
        self._channel: BlockingChannel | None = None

    @classmethod
    def open(cls, nodes: list[pika.URLParameters]) -> _Client:
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

    def close(self) -> None:
        try:
            if self.connection.is_open:
                self.connection.close()
        except (AMQPError, OSError):
            pass  # already gone; pika has released the socket


class _Connections:
    """Per-app state: the parameters and each thread's client."""

    def __init__(self, params: list[pika.URLParameters], operation_timeout: float):
        self.params = params  # one per node; empty: RabbitMQ is disabled
        self.operation_timeout = operation_timeout
        self.local = threading.local()

    def current(self) -> _Client | None:
        client = getattr(self.local, "client", None)
        if client is not None and client.pid != os.getpid():
            # Inherited over a fork: the socket is the parent's; forget it, never close it.
            self.local.client = client = None
        return client

    def checkout(self) -> tuple[_Client, bool]:
        """This thread's live client and whether it was opened just now.
        Raises Unavailable when RabbitMQ is disabled or cannot be reached."""
        if not self.params:
            raise Unavailable("RabbitMQ is disabled on this server (AMQP_URL and RABBIT_HOST are empty).")
        client = self.current()
        if client is not None and client.alive():
            return client, False
        if client is not None:
            log.info("AMQP connection was dropped; reopening")
            self.discard()
        self.local.client = _Client.open(self.params)
        return self.local.client, True

    def discard(self) -> None:
        client = self.current()
        self.local.client = None
        if client is not None:
            client.close()


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


class AMQP:
    """Bound with ``init_app``; ``run`` executes an operation on this thread's channel."""

    def init_app(self, app: Flask) -> None:
        # pika logs every connect at INFO and a refused one as an ERROR traceback;
        # ``run`` logs each failure once, at WARNING.
        logging.getLogger("pika").setLevel(app.config["AMQP_PIKA_LOG_LEVEL"])
        nodes = node_parameters(app.config)
        app.extensions[EXTENSION] = _Connections(nodes, app.config["AMQP_OPERATION_TIMEOUT"])

    @staticmethod
    def _state() -> _Connections:
        return current_app.extensions[EXTENSION]

    def run(self, operation: Callable[[BlockingChannel], T], *, retry: bool = True) -> T:
        """``operation(channel)`` on this thread's connection. A connection found dropped is
        reopened and the operation retried once. Raises NotFound, Conflict, Unavailable."""
        state = self._state()
        for attempt in (1, 2):
            client, fresh = state.checkout()
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

    def sleep(self, seconds: float) -> None:
        """Wait, keeping this thread's connection alive (pika sends heartbeats only while called)."""
        client = self._state().current()
        if client is not None and client.connection.is_open:
            try:
                client.connection.sleep(seconds)
                return
            except (AMQPError, OSError):
                self._state().discard()
        time.sleep(seconds)

    def close(self) -> None:
        """Close this thread's connection (tests, and commands before they exit)."""
        self._state().discard()

    def probe(self) -> Callable[[float], None] | None:
        """This app's readiness probe, or None when RabbitMQ is disabled (call in an app context)."""
        params = self._state().params
        return functools.partial(ping, params) if params else None
