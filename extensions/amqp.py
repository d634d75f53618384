"""The AMQP extension: one pika ``BlockingConnection`` per process and thread, opened on first use.

pika's blocking connection is not thread-safe and must never cross a fork, so
``init_app`` only reads settings and each thread opens its own connection lazily;
a connection inherited from a parent process is never touched. ``run`` hands an
operation a channel in publisher-confirm mode, reopens a dropped connection,
retries the operation once, and turns pika's exceptions into domain errors.

pika itself loads with the first operation or readiness probe: everything that knows
it is in ``extensions.amqp_pika``, so a worker that never talks to RabbitMQ does not
carry it (2 MiB; bench/README.md, "Memory").

With ``AMQP_URLS`` (a cluster's nodes) every connection is opened by pika trying the
URLs in turn, one attempt each: a dead node costs a refused connect (or at most
``AMQP_CONNECT_TIMEOUT`` when it does not answer), and a connection lost with its node is
reopened on the first node that answers, as any dropped connection is.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app

if TYPE_CHECKING:
    from pika import URLParameters
    from pika.adapters.blocking_connection import BlockingChannel

    from extensions.amqp_pika import Client

T = TypeVar("T")
EXTENSION = "wdapi.amqp"


def broker_urls(config: Mapping) -> list[str]:
    """The ``AMQP_URLS`` nodes, else the single broker's URL; empty when RabbitMQ is disabled."""
    if config.get("AMQP_URLS"):
        return list(config["AMQP_URLS"])
    return [config["AMQP_URL"]] if config["AMQP_URL"] else []


class Connections:
    """Per-app state: the settings, the nodes' pika parameters once built, each thread's client."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = config
        self.urls = broker_urls(config)  # empty: RabbitMQ is disabled
        self.operation_timeout = config["AMQP_OPERATION_TIMEOUT"]
        self.local = threading.local()

    @functools.cached_property
    def params(self) -> list[URLParameters]:
        """One set of pika parameters per node."""
        from extensions.amqp_pika import connection_parameters

        return [connection_parameters(self.config, url) for url in self.urls]

    def current(self) -> Client | None:
        client = getattr(self.local, "client", None)
        if client is not None and client.pid != os.getpid():
            # Inherited over a fork: the socket is the parent's; forget it, never close it.
            self.local.client = client = None
        return client

    def discard(self) -> None:
        client = self.current()
        self.local.client = None
        if client is not None:
            client.close()


class AMQP:
    """Bound with ``init_app``; ``run`` executes an operation on this thread's channel."""

    def init_app(self, app: Flask) -> None:
        # pika logs every connect at INFO and a refused one as an ERROR traceback;
        # ``run`` logs each failure once, at WARNING.
        logging.getLogger("pika").setLevel(app.config["AMQP_PIKA_LOG_LEVEL"])
        app.extensions[EXTENSION] = Connections(app.config)

    @staticmethod
    def _state() -> Connections:
        return current_app.extensions[EXTENSION]

    def run(self, operation: Callable[[BlockingChannel], T], *, retry: bool = True) -> T:
        """``operation(channel)`` on this thread's connection. A connection found dropped is
        reopened and the operation retried once. Raises NotFound, Conflict, Unavailable."""
        from extensions.amqp_pika import run

        return run(self._state(), operation, retry=retry)

    def sleep(self, seconds: float) -> None:
        """Wait, keeping this thread's connection alive (pika sends heartbeats only while called)."""
        state = self._state()
        client = state.current()
        if client is not None and client.sleep(seconds):
            return
        if client is not None:
            state.discard()
        time.sleep(seconds)

    def close(self) -> None:
        """Close this thread's connection (tests, and commands before they exit)."""
        self._state().discard()

    def probe(self) -> Callable[[float], None] | None:
        """This app's readiness probe, or None when RabbitMQ is disabled (call in an app context)."""
        state = self._state()
        if not state.urls:
            return None
        from extensions.amqp_pika import ping

        return functools.partial(ping, state.params)
