"""Outbox relays racing in threads, as several relay processes would."""

from __future__ import annotations

import threading

from flask import Flask
from sqlalchemy.exc import OperationalError

from extensions import amqp, db
from services import outbox


def drain_with_relays(app: Flask, *, relays: int = 2, limit: int = 100, timeout: float = 300) -> list[int]:
    """Run ``relays`` relay loops at once until nothing is pending; return how many events
    each pass sent. Raises the first error a relay met (SQLite lock waits are retried)."""
    sent: list[int] = []
    errors: list[BaseException] = []

    def relay_until_empty() -> None:
        with app.app_context():
            try:
                while outbox.get_pending_count():
                    try:
                        sent.append(outbox.relay(limit=limit))
                    except OperationalError:
                        db.session.rollback()  # SQLite: the other relay holds the write lock
                    db.session.commit()
            except Exception as err:  # re-raised in the caller's thread
                errors.append(err)
            finally:
                amqp.close()
                db.session.remove()

    threads = [threading.Thread(target=relay_until_empty) for _ in range(relays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if errors:
        raise errors[0]
    return sent
