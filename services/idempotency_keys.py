"""Idempotency keys in the database, written in the transaction of the write they name.

A keyed write first inserts its key's row, then does its work and stores its result in
that row; all of it commits or none does. So whatever became of an attempt (answered,
refused, or cut off around its COMMIT), a retry with the same key reads the truth: a row
means the write committed, and the retry returns that result instead of writing again; no
row means it did not, and the retry runs. A racing attempt with the same key waits on the
row's primary key (or fails Galera certification) and runs again to read the result.
The Redis claim in ``services.idempotency`` stays in front: it keeps two attempts from
running at once and replays whole responses without touching the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from core.errors import Unprocessable
from extensions import db
from extensions.database import RetryTransaction
from models import IdempotencyKey
from models.types import utcnow
from services.idempotency import caller_hash

T = TypeVar("T")


@dataclass
class KeyedRequest:
    """The key a write runs under; ``replayed`` is set when its first attempt had committed."""

    caller: str
    key: str
    fingerprint: str
    replayed: bool = field(default=False)


_current: ContextVar[KeyedRequest | None] = ContextVar("wdapi_keyed_request", default=None)


@contextmanager
def keyed(*, caller: str, key: str, fingerprint: str) -> Iterator[KeyedRequest]:
    """Writes inside run at most once for (caller, key); see ``once``. ``caller``: the
    caller's API key ("" without auth)."""
    request = KeyedRequest(caller_hash(caller), key, fingerprint)
    token = _current.set(request)
    try:
        yield request
    finally:
        _current.reset(token)


def active() -> bool:
    """Whether writes now run under a key (inside ``keyed``)."""
    return _current.get() is not None


def once(work: Callable[[], T], *, encode: Callable[[T], str], decode: Callable[[str], T]) -> T:
    """Inside a write transaction: ``work()``, recorded under the current key; or, when an
    earlier attempt with this key committed, its result again (``decode``d) without working.
    No key: just ``work()``. Raises Unprocessable (the key named another request),
    RetryTransaction (an attempt with the same key inserted it first), what ``work`` raises."""
    request = _current.get()
    if request is None:
        return work()
    ident = (request.caller, request.key)
    row = db.session.get(IdempotencyKey, ident, populate_existing=True)
    if row is not None and row.created_at < utcnow() - timedelta(seconds=_ttl()):
        db.session.delete(row)  # expired: the key is free again
        db.session.flush()
        row = None
    if row is not None:
        if row.fingerprint != request.fingerprint:
            raise Unprocessable(
                "This Idempotency-Key was used for a different request (method, path or body)."
            )
        request.replayed = True
        return decode(row.result or "null")
    row = IdempotencyKey(caller=request.caller, key=request.key, fingerprint=request.fingerprint)
    db.session.add(row)
    try:
        # First: a racing attempt with the same key waits here, before it writes anything.
        db.session.flush()
    except IntegrityError:
        raise RetryTransaction("idempotency key taken") from None
    result = work()
    row.result = encode(result)
    return result


def delete_expired() -> int:
    """Delete keys older than IDEMPOTENCY_TTL; return how many."""
    cutoff = utcnow() - timedelta(seconds=_ttl())
    deleted = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    db.session.commit()
    return int(getattr(deleted, "rowcount", 0))


def _ttl() -> Any:
    return current_app.config["IDEMPOTENCY_TTL"]
