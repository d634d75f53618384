"""Test helpers for the real local RabbitMQ: a test-side client and a TCP proxy that can drop links."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
import uuid

import pika

from tests.helpers.ports import dead_port
from tests.helpers.require import require_port

HOST, PORT = "127.0.0.1", 5672
URL = f"amqp://guest:guest@{HOST}:{PORT}/%2F"


def require_broker() -> None:
    require_port(HOST, PORT, "RabbitMQ")


def unique(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def dead_url() -> str:
    """An AMQP URL on a loopback port nothing listens on."""
    return f"amqp://guest:guest@{HOST}:{dead_port()}/%2F"


@contextlib.contextmanager
def silent_url():
    """An AMQP URL on a loopback port that accepts TCP connections but never answers."""
    with socket.create_server((HOST, 0), backlog=16) as listener:  # the kernel completes connects
        yield f"amqp://guest:guest@{HOST}:{listener.getsockname()[1]}/%2F"


class Broker:
    """The test's own connection, independent of the app's: declares, binds, reads, cleans up."""

    def __init__(self):
        self.connection = pika.BlockingConnection(pika.URLParameters(URL))
        self.channel = self.connection.channel()
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def queue(self, name: str | None = None, **kwargs) -> str:
        name = name or unique()
        self.channel.queue_declare(name, **kwargs)
        self.queues.append(name)
        return name

    def track(self, name: str) -> str:
        """Delete ``name`` at close (a queue the app created)."""
        self.queues.append(name)
        return name

    def bind_events(self, exchange: str, pattern: str = "wdtest.*") -> str:
        self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        self.exchanges.append(exchange)
        name = self.queue()
        self.channel.queue_bind(name, exchange, routing_key=pattern)
        return name

    def exists(self, name: str) -> bool:
        channel = self.connection.channel()
        try:
            channel.queue_declare(name, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            return False
        channel.close()
        return True

    def drain(self, name: str) -> list[tuple[pika.BasicProperties, dict]]:
        """Every message now on ``name`` (acknowledged), as (properties, JSON body)."""
        out = []
        while True:
            method, properties, body = self.channel.basic_get(name, auto_ack=True)
            if method is None:
                return out
            out.append((properties, json.loads(body)))

    def close(self) -> None:
        for name in self.queues:
            if self.connection.is_open:
                self.connection.channel().queue_delete(name)
        for name in self.exchanges:
            if self.connection.is_open:
                self.connection.channel().exchange_delete(name)
        if self.connection.is_open:
            self.connection.close()


class Proxy:
    """A loopback TCP proxy to the broker. ``drop()`` cuts every open link (as a broker
    restart does) while new ones still connect; ``freeze()`` stops forwarding but keeps
    the links open (a broker that hangs); ``stop()`` also stops listening."""

    def __init__(self, target=(HOST, PORT)):
        self.target = target
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"amqp://guest:guest@{HOST}:{self.port}/%2F"
        self.links: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.frozen = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # listener closed
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.links.append((client, upstream))
            thread = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                if self.frozen.is_set():
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select([a, b], [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return  # one side closed: close both
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            pass  # a socket was closed by drop()
        finally:
            a.close()
            b.close()

    def freeze(self) -> None:
        self.frozen.set()

    def drop(self) -> None:
        with self.lock:
            links, self.links = self.links, []
        for pair in links:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def stop(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self.listener.close()
        self.drop()
        for thread in self.threads:
            thread.join(timeout=2)
