"""Publish rate with publisher confirms against the local RabbitMQ (loopback only).

    .venv/bin/python -m bench.amqp_publish [--seconds 3] [--size 200]

Measures, each for ``--seconds``: (1) ``services.rabbitmq.publish`` (persistent JSON
message to a durable queue, mandatory, one confirm per message: what POST
.../messages does, minus HTTP), (2) the outbox relay (``services.outbox.relay``,
batches of 100, one confirm per event, into a bound durable queue, rows marked sent
in SQLite). Queues and the exchange are deleted afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from urllib.parse import urlsplit

import pika

from extensions import amqp, db
from factory import create_app
from models import Wdtest
from services import outbox, rabbitmq

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def bench_publish(seconds: float, size: int) -> tuple[int, float]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    body = {"payload": "x" * size}
    rabbitmq.create(name=name)
    try:
        sent, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            rabbitmq.publish(name=name, body=body)
            sent += 1
        return sent, elapsed
    finally:
        rabbitmq.delete(name=name)


def bench_relay(seconds: float, exchange: str) -> tuple[int, float]:
    # A bound durable queue, so the broker stores each event before confirming it.
    queue = f"bench-events-{uuid.uuid4().hex[:8]}"
    rabbitmq.create(name=queue)
    amqp.run(lambda channel: channel.exchange_declare(exchange, exchange_type="topic", durable=True))
    amqp.run(lambda channel: channel.queue_bind(queue, exchange, routing_key="#"))
    record = Wdtest(id="bench", name="bench", age=1)
    db.session.add(record)
    db.session.flush()
    sent, busy = 0, 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(500):
            outbox.add(event_type="wdtest.updated", record=record)
        db.session.commit()
        started = time.perf_counter()
        while n := outbox.relay(limit=100):
            sent += n
        busy += time.perf_counter() - started
    rabbitmq.delete(name=queue)
    amqp.run(lambda channel: channel.exchange_delete(exchange))
    return sent, busy


def report(label: str, count: int, elapsed: float) -> None:
    print(f"{label:<24} {count / elapsed:8,.0f} msg/s  ({count} confirmed in {elapsed:.1f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (max 30)")
    parser.add_argument("--size", type=int, default=200, help="message body size in bytes")
    args = parser.parse_args()
    seconds = min(args.seconds, 30.0)
    with tempfile.TemporaryDirectory() as tmp:
        exchange = f"bench.events.{uuid.uuid4().hex[:8]}"
        app = create_app(
            {
                "ENV_NAME": "test",
                "LOG_LEVEL": "WARNING",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "WDTEST_EVENTS_EXCHANGE": exchange,
            }
        )
        host = urlsplit(app.config["AMQP_URL"]).hostname
        if host not in LOOPBACK:
            sys.exit(f"refusing to benchmark a non-loopback broker ({host})")
        with app.app_context():
            db.create_all()
            try:
                report(f"publish ({args.size} B body)", *bench_publish(seconds, args.size))
                report("outbox relay (SQLite)", *bench_relay(seconds, exchange))
            except pika.exceptions.AMQPError as err:
                sys.exit(f"broker error: {err!r}")
            finally:
                amqp.close()
                db.session.remove()
                db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
