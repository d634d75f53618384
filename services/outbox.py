"""The transactional outbox: events are written with the record and relayed to RabbitMQ later.

``add`` puts an event in the caller's transaction, so it exists exactly when the
record change does and a broker outage never fails or slows a write. ``relay``
claims unsent rows (``FOR UPDATE SKIP LOCKED`` on MySQL/MariaDB, the write lock
on SQLite), publishes them with publisher confirms and marks them sent in the
same transaction: at-least-once, and two relays do not send the same row. A
record's events are published one at a time in version order, however many relays
run (see ``_claim``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from flask import current_app
from sqlalchemy import CursorResult, Table, delete, func, select, update
from sqlalchemy.orm import Session, aliased

from core.errors import DomainError
from extensions import amqp, database, db
from models import OutboxEvent
from models.base import column_values
from models.outbox import LAST_ERROR_MAX_LENGTH
from models.types import jsonable, utcnow
from services.rabbitmq import queue_arguments

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingChannel

SOURCE = "wdapi"
INSERT = database.RowInsert(cast(Table, OutboxEvent.__table__))  # built once: the values are parameters


def _snapshot(record) -> dict:
    """The record's columns as the API shows them (datetimes as ISO 8601 with offset)."""
    values = record if isinstance(record, Mapping) else column_values(record)
    return {key: jsonable(value) for key, value in values.items()}


def envelope(*, event_type: str, record, version: int | None = None) -> dict:
    """The event body (CloudEvents 1.0 JSON): a unique id, the type, a timestamp, the record
    (``data``), its id (``subject``) and ``version``, an extension attribute: the record's
    version after this change (default ``record.version``), which orders a record's events."""
    data = _snapshot(record)
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": SOURCE,
        "type": event_type,
        "subject": data["id"],
        "version": data["version"] if version is None else version,
        "time": utcnow().isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def add(*, event_type: str, record, version: int | None = None) -> None:
    """Add an event about ``record`` (a mapped object, or its column values as inserted) to
    the current transaction; the caller commits, holding the record's row lock (its
    INSERT, UPDATE or DELETE takes it), so a record's events get ids in the order of its
    versions.

    Flushes a mapped record first so generated values (id, timestamps, version) are in
    the event; a flush error (IntegrityError) propagates to the caller as its commit's
    would. The event row is one INSERT on the transaction (``database.RowInsert``): the ORM's
    unit of work costs more than the row."""
    if not isinstance(record, Mapping):
        db.session.flush()
    INSERT.run(db.session, row(event_type=event_type, record=record, version=version))


def row(*, event_type: str, record, version: int | None = None) -> dict:
    """The outbox row of an event about ``record`` (see ``envelope``), for ``INSERT``: what
    ``add`` inserts, for a transaction without a session (``database.insert_transaction``)."""
    event = envelope(event_type=event_type, record=record, version=version)
    return {
        "event_id": event["id"],
        "event_type": event_type,
        "record_id": event["subject"],
        "payload": json.dumps(event, ensure_ascii=False, separators=(",", ":")),
        "attempts": 0,
    }


def get_pending_summary() -> tuple[int, datetime | None]:
    """How many events wait to be relayed, and when the oldest was created (None: none)."""
    row = db.session.execute(
        select(func.count(), func.min(OutboxEvent.created_at)).where(OutboxEvent.sent_at.is_(None))
    ).one()
    return row[0] or 0, row[1]


def get_pending_count() -> int:
    """How many events wait to be relayed."""
    return db.session.scalar(select(func.count()).where(OutboxEvent.sent_at.is_(None))) or 0


def _claim(session: Session, limit: int) -> list[OutboxEvent]:
    pending = OutboxEvent.sent_at.is_(None)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: this UPDATE takes the database write lock first and
        # holds it until the batch is marked sent, so a second relay waits, then sees
        # these rows sent: relays take turns, each in id order, and per-record order holds.
        oldest = select(OutboxEvent).where(pending).order_by(OutboxEvent.id).limit(limit)
        ids = select(OutboxEvent.id).where(pending).order_by(OutboxEvent.id).limit(limit)
        session.execute(
            update(OutboxEvent)
            .where(pending, OutboxEvent.id.in_(ids.scalar_subquery()))
            .values(attempts=OutboxEvent.attempts + 1)
        )
        return list(session.scalars(oldest))
    # Per-record order with any number of relays: only the oldest unsent event of each
    # record is claimable. A record's later event waits while an earlier one is unsent,
    # and the earlier one is either claimable (then in this batch or locked, so skipped,
    # by another relay) or sent. A record's events get ids in version order (written
    # under its row lock), so id order is version order.
    earlier = aliased(OutboxEvent)
    earlier_unsent = (
        select(earlier.id)
        .where(earlier.record_id == OutboxEvent.record_id, earlier.id < OutboxEvent.id)
        .where(earlier.sent_at.is_(None))
        .exists()
    )
    heads = select(OutboxEvent).where(pending, ~earlier_unsent).order_by(OutboxEvent.id).limit(limit)
    rows = list(session.scalars(heads.with_for_update(skip_locked=True)))
    if rows:
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_([row.id for row in rows]))
            .values(attempts=OutboxEvent.attempts + 1)
        )
    return rows


def _publisher(exchange: str, rows: list[OutboxEvent], sent: set[int]):
    config = current_app.config
    queue, arguments = config["WDTEST_EVENTS_QUEUE"], queue_arguments(config["WDTEST_EVENTS_QUEUE_TYPE"])

    def publish(channel: BlockingChannel) -> None:
        import pika  # loaded by amqp.run already: pika stays out of the workers (extensions.amqp)

        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        if queue:
            # Declared before the publish: no event is confirmed while nothing would keep it.
            # A quorum queue confirms once a majority of its nodes stored the event.
            channel.queue_declare(queue, durable=True, arguments=arguments or None)
            channel.queue_bind(queue, exchange, routing_key="#")
        for row in rows:
            if row.id in sent:
                continue  # confirmed before a reconnect: never publish it twice
            properties = pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=row.event_id,
                type=row.event_type,
                timestamp=int(time.time()),
                app_id=SOURCE,
            )
            # Returns once the broker confirmed; raises on a nack or a lost connection.
            channel.basic_publish(exchange, row.event_type, row.payload.encode(), properties)
            sent.add(row.id)

    return publish


def relay(*, limit: int | None = None) -> int:
    """Publish up to ``limit`` unsent events, oldest first, and mark them sent; return how many.

    Works in rounds, one transaction each, until ``limit`` or nothing is claimable: on
    MySQL/MariaDB a round takes at most one event per record (see ``_claim``).
    Raises Unavailable (broker down, or not confirming) after committing what was sent."""
    limit = limit or current_app.config["OUTBOX_BATCH_SIZE"]
    exchange = current_app.config["WDTEST_EVENTS_EXCHANGE"]
    engine = db.engine
    if engine.dialect.name == "mysql":
        # No gap locks: inserts of new events never wait for the relay.
        engine = engine.execution_options(isolation_level="READ COMMITTED")
    total = 0
    while total < limit:
        sent = _relay_round(engine, exchange, limit - total)
        if not sent:
            break
        total += sent
    return total


def _relay_round(engine, exchange: str, limit: int) -> int:
    sent: set[int] = set()
    failure: DomainError | None = None
    # Its own session and transaction, never mixed with the caller's.
    with Session(engine) as session, session.begin():
        rows = _claim(session, limit)
        if not rows:
            return 0
        try:
            amqp.run(_publisher(exchange, rows, sent))
        except DomainError as err:
            failure = err
        now = utcnow()
        for row in rows:
            if row.id in sent:
                row.sent_at = now
            elif failure is not None:
                # The first unsent row is the one the broker did not take.
                row.last_error = f"{type(failure).__name__}: {failure.detail}"[:LAST_ERROR_MAX_LENGTH]
                break
    if failure is not None:
        raise failure
    return len(sent)


def delete_sent(*, older_than: timedelta) -> int:
    """Delete events sent more than ``older_than`` ago; return how many."""
    cutoff = utcnow() - older_than
    result: CursorResult = db.session.execute(  # type: ignore[assignment]
        delete(OutboxEvent).where(OutboxEvent.sent_at.is_not(None), OutboxEvent.sent_at < cutoff)
    )
    db.session.commit()
    return result.rowcount
