"""Wdtest records: create, read, list with filters/sort/pagination, update, delete."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import Row, and_, bindparam, func, inspect, or_, select, text
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from extensions import db
from models import Wdtest
from services import cache, outbox


class Render(Protocol):
    """Renders a record to response bytes; ``version`` names the format (see ``services.cache``)."""

    version: str

    def __call__(self, record: Any, /) -> bytes: ...


class RenderPage(Protocol):
    """Renders a page to response bytes; ``version`` names the format."""

    version: str

    def __call__(self, page: Page, /) -> bytes: ...


CACHE_KIND = "wdtest"
LIST_CACHE_KIND = "wdtest-list"  # list pages: any write may change any of them

# Filter operators: ``<field>__<op>`` -> SQL expression. ``startswith``/``endswith``/
# ``contains`` escape LIKE wildcards in the value; ``like`` keeps the client's own
# wildcards and uses backslash as the escape character on every backend.
OPERATORS = {
    "eq": lambda col, v: col == v,
    "ne": lambda col, v: col != v,
    "gt": lambda col, v: col > v,
    "gte": lambda col, v: col >= v,
    "lt": lambda col, v: col < v,
    "lte": lambda col, v: col <= v,
    "in": lambda col, v: col.in_(v),
    "startswith": lambda col, v: col.startswith(v, autoescape=True),
    "endswith": lambda col, v: col.endswith(v, autoescape=True),
    "contains": lambda col, v: col.contains(v, autoescape=True),
    "like": lambda col, v: col.like(v, escape="\\"),
}
# The columns clients may filter and sort on: Core columns, so reads return plain rows
# (no identity map, no entity loading: the ORM's per-row cost is most of a read's CPU).
TABLE = Wdtest.__table__
COLUMNS = {"id": TABLE.c.id, "name": TABLE.c.name, "age": TABLE.c.age}
# Sort keys a cursor can continue from: never NULL, so "after this row" is a plain comparison.
CURSOR_SORTABLE = frozenset({"id", "name"})
# Built once: SQLAlchemy caches its compiled form; only the bound id changes.
BY_ID = select(*TABLE.c).where(TABLE.c.id == bindparam("wdtest_id"))
WRITABLE = ("name", "age")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _condition(key: str, value: Any):
    field, _, op = key.partition("__")
    return OPERATORS[op or "eq"](COLUMNS[field], value)


def total_order(sort: Iterable[str]) -> list[str]:
    """``sort`` with ``id`` appended when absent: the primary key makes every order total."""
    order = list(sort)
    if not any(item.lstrip("-") == "id" for item in order):
        order.append("id")
    return order


def _order_by(order: Iterable[str]):
    return [
        COLUMNS[item.lstrip("-")].desc() if item.startswith("-") else COLUMNS[item].asc() for item in order
    ]


def _after(order: Sequence[str], key: Sequence[Any]):
    """Rows strictly after ``key`` in ``order`` (a keyset condition the indexes can serve)."""
    alternatives = []
    for i, item in enumerate(order):
        column = COLUMNS[item.lstrip("-")]
        beyond = column < key[i] if item.startswith("-") else column > key[i]
        ties = [COLUMNS[prior.lstrip("-")] == key[j] for j, prior in enumerate(order[:i])]
        alternatives.append(and_(*ties, beyond))
    return or_(*alternatives)


@dataclass(frozen=True)
class Page:
    """One page of records. ``page``: its number (None when reached by cursor); ``total``:
    the matching records (None when not asked for); ``next_after``: where the next page
    starts, ``[sort, key of the last item]`` (None on the last page)."""

    items: Sequence[Row]
    page: int | None
    per_page: int
    total: int | None
    next_after: list | None

    @property
    def pages(self) -> int | None:
        return None if self.total is None else -(-self.total // self.per_page)


def get(*, wdtest_id: str) -> Row:
    """Return one committed record (its column values). Raises NotFound."""
    # One statement on a pooled connection of its own, returned at once: no ORM session to
    # begin and, at teardown, to roll back and close (a quarter of a read's CPU).
    with db.engine.connect() as conn:
        record = conn.execute(BY_ID, {"wdtest_id": wdtest_id}).one_or_none()
    if record is None:
        raise NotFound(f"No wdtest with id {wdtest_id!r}.")
    return record


def get_rendered(*, wdtest_id: str, render: Render) -> tuple[bytes, bool]:
    """One record as ``render`` makes it, read through the cache; (body, hit). Raises NotFound."""
    return cache.read_through(CACHE_KIND, wdtest_id, lambda: render(get(wdtest_id=wdtest_id)), fmt=render)


def get_all(
    *,
    filters: Mapping[str, Any] | None = None,
    sort: Iterable[str] = (),
    page: int = 1,
    per_page: int = 20,
    include_total: bool = True,
    after: Sequence | None = None,
) -> Page:
    """One page of records matching every filter (ANDed), in ``sort`` order, ties by id.

    ``filters`` maps ``field`` or ``field__op`` (see OPERATORS) to a typed value.
    ``after``: a ``next_after`` of an earlier page in this ``sort``: the page after it,
    found through the index whatever its depth (``page`` is then ignored).
    ``include_total=False`` skips the count (a full scan of the matches).
    Raises InvalidInput for an ``after`` of another sort order.
    """
    order = total_order(sort)
    matching = [_condition(k, v) for k, v in (filters or {}).items()]
    query = select(*TABLE.c).where(*matching).order_by(*_order_by(order)).limit(per_page + 1)
    if after is None:
        query = query.offset((page - 1) * per_page)
    else:
        after_sort, key = after
        if any(item.lstrip("-") not in CURSOR_SORTABLE for item in order):
            detail = f"A cursor follows a sort on {' and '.join(sorted(CURSOR_SORTABLE))} only."
            raise InvalidInput(detail, {"after": [detail]})
        if list(after_sort) != list(sort) or len(key) != len(order):
            detail = "The cursor belongs to another sort order."
            raise InvalidInput(detail, {"after": [detail]})
        query = query.where(_after(order, key))
    # As get(): a connection of its own. Its one transaction gives the page and the count the
    # same snapshot. One more row than the page tells whether a next page exists.
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
        total = None
        if include_total:
            total = conn.execute(select(func.count()).select_from(TABLE).where(*matching)).scalar_one()
    items = rows[:per_page]
    next_after = None
    if len(rows) > per_page:
        last = items[-1]
        next_after = [list(sort), [getattr(last, item.lstrip("-")) for item in order]]
    return Page(items, None if after is not None else page, per_page, total, next_after)


def get_all_cached(*, render: RenderPage, **query: Any) -> tuple[bytes, bool]:
    """``render(get_all(**query))``, read through the cache; (body, hit)."""
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"))
    ident = hashlib.sha256(canonical.encode()).hexdigest()
    return cache.read_through(
        LIST_CACHE_KIND, ident, lambda: render(get_all(**query)), fmt=render, shared=True
    )


def snapshot(record: Wdtest) -> SimpleNamespace:
    """The record's column values, detached from the session: still readable after the
    commit, and after another request deleted the row."""
    return SimpleNamespace(**{a.key: getattr(record, a.key) for a in inspect(record).mapper.column_attrs})


def revision(*, wdtest_id: str, version: int, created_at: datetime) -> str:
    """An opaque token naming one state of a record (the API's ETag). ``created_at`` tells a
    record re-created under a deleted one's id (both start at version 1) from the old one."""
    micros = (created_at - EPOCH) // timedelta(microseconds=1)
    lifetime = hashlib.blake2b(f"{wdtest_id}|{micros}".encode(), digest_size=6).hexdigest()
    return f"{version}-{lifetime}"


def _revision_of(record) -> str:
    return revision(wdtest_id=record.id, version=record.version, created_at=record.created_at)


# If-Match: * -- any revision of a record that exists (RFC 9110 13.1.1).
ANY_REVISION = "*"


def _lock(wdtest_id: str, expected: Collection[str] | None) -> Wdtest:
    """The record, locked until the commit: ``SELECT ... FOR UPDATE`` on MySQL/MariaDB,
    the database write lock on SQLite (which has no row locks). Starts the transaction,
    so everything read here is current. ``expected``: the revisions the record must be at
    (``ANY_REVISION`` in it: any, as long as the record exists). Raises NotFound, PreconditionFailed."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.rollback()  # nothing may be pending before BEGIN
        db.session.execute(text("BEGIN IMMEDIATE"))  # waits for the other writers (busy timeout)
    query = select(Wdtest).where(Wdtest.id == wdtest_id).with_for_update()
    record = db.session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if record is None:
        db.session.rollback()
        if expected is not None:
            raise PreconditionFailed(f"No wdtest with id {wdtest_id!r}: the precondition does not hold.")
        raise NotFound(f"No wdtest with id {wdtest_id!r}.")
    if expected is not None and ANY_REVISION not in expected and _revision_of(record) not in expected:
        current = record.version
        db.session.rollback()
        raise PreconditionFailed(
            f"Wdtest {wdtest_id!r} has changed (it is at version {current}).", version=current
        )
    return record


def create(*, data: Mapping[str, Any]) -> SimpleNamespace:
    """Insert a record (id generated when absent) at version 1; return it as committed.
    Raises Conflict on a taken id."""
    record = Wdtest(**data)
    db.session.add(record)
    try:
        outbox.add(event_type="wdtest.created", record=record)  # same transaction as the record
        created = snapshot(record)
        db.session.commit()
    except IntegrityError:
        # The primary key is the only unique constraint: this is a taken id,
        # also when a concurrent request inserted it first.
        db.session.rollback()
        raise Conflict(f"A wdtest with id {record.id!r} already exists.") from None
    cache.invalidate((CACHE_KIND, created.id), (LIST_CACHE_KIND, None))
    return created


def update(
    *, wdtest_id: str, changes: Mapping[str, Any], expected: Collection[str] | None = None
) -> SimpleNamespace:
    """Apply ``changes`` (name, age) under the row lock and return the record as committed.
    ``expected``: change only a record at one of these revisions (else PreconditionFailed).
    Nothing changes, and no event is written, when the values are already those.
    Raises NotFound, InvalidInput, PreconditionFailed."""
    if changes.get("id", wdtest_id) != wdtest_id:
        raise InvalidInput("The id cannot be changed.", {"id": ["The id cannot be changed."]})
    record = _lock(wdtest_id, expected)
    for field in WRITABLE:
        if field in changes:
            setattr(record, field, changes[field])
    if not db.session.is_modified(record):
        unchanged = snapshot(record)
        db.session.rollback()
        return unchanged
    outbox.add(event_type="wdtest.updated", record=record)  # flushes: version + 1
    updated = snapshot(record)
    db.session.commit()
    cache.invalidate((CACHE_KIND, wdtest_id), (LIST_CACHE_KIND, None))
    return updated


def delete(*, wdtest_id: str, expected: Collection[str] | None = None) -> None:
    """Delete a record under the row lock; its event carries the final version + 1.
    ``expected``: delete only a record at one of these revisions (else PreconditionFailed).
    Raises NotFound, PreconditionFailed."""
    record = _lock(wdtest_id, expected)
    outbox.add(event_type="wdtest.deleted", record=record, version=record.version + 1)
    db.session.delete(record)
    db.session.commit()
    cache.invalidate((CACHE_KIND, wdtest_id), (LIST_CACHE_KIND, None))
