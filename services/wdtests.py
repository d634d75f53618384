"""Wdtest records: create, read, list with filters/sort/pagination, update, delete."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import (
    BindParameter,
    Integer,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from extensions import database, db
from models import Wdtest
from models.base import column_values
from models.types import UTCDateTime, jsonable
from services import cache, idempotency_keys, outbox


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
TABLE = cast(Table, Wdtest.__table__)
COLUMNS = {"id": TABLE.c.id, "name": TABLE.c.name, "age": TABLE.c.age}
# Sort keys a cursor can continue from: never NULL, so "after this row" is a plain comparison.
CURSOR_SORTABLE = frozenset({"id", "name"})
# Built once: SQLAlchemy caches its compiled form; only the bound id changes.
BY_ID = database.Query(select(*TABLE.c).where(TABLE.c.id == bindparam("wdtest_id")))
# What a client may change: every column the database or the mapper does not manage
# (the key, generated timestamps, the version), so a new column is writable at once.
WRITABLE = tuple(
    c.key
    for c in TABLE.c
    if not (c.primary_key or c.default is not None or c.onupdate is not None)
    and c is not Wdtest.__mapper__.version_id_col
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _first_version() -> int:
    """The version the mapper gives a new record (its counter's first value)."""
    generate = Wdtest.__mapper__.version_id_generator
    assert callable(generate)
    return generate(None)


FIRST_VERSION = _first_version()
# Built once, as BY_ID: the values are parameters; columns left out get their defaults.
INSERT = database.RowInsert(TABLE)
TOTAL_LABEL = "wdapi_total"  # the list's count, beside each row's columns


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
    # One statement on the read engine: no ORM session, no transaction, one round trip.
    record = database.fetch_one(BY_ID, {"wdtest_id": wdtest_id})
    if record is None:
        raise NotFound(f"No wdtest with id {wdtest_id!r}.")
    return record


class EntryFormat:
    """A cache entry's format: the renderer's, and the layout of what precedes the body."""

    def __init__(self, render_version: str):
        self.version = f"{render_version}.2"  # .2: a line of metadata before the body


class Rendered(NamedTuple):
    """A record as ``render`` made it: the bytes, its revision (the ETag), from the cache?"""

    body: bytes
    revision: str
    hit: bool


def get_rendered(*, wdtest_id: str, render: Render) -> Rendered:
    """One record as ``render`` makes it, read through the cache. Raises NotFound."""

    def load() -> bytes:
        record = get(wdtest_id=wdtest_id)
        # The revision rides in the entry, before the body: a hit needs no parsing to find it.
        return _revision_of(record).encode() + b"\n" + render(record)

    entry, hit = cache.read_through(CACHE_KIND, wdtest_id, load, fmt=EntryFormat(render.version))
    revision, _, body = entry.partition(b"\n")
    return Rendered(body, revision.decode(), hit)


# A page's size and offset are bound at execution, so one statement serves every page.
LIMIT: BindParameter[int] = bindparam("page_limit", type_=Integer)
OFFSET: BindParameter[int] = bindparam("page_offset", type_=Integer)


def _page_statements(matching: list, order: Sequence[str], include_total: bool) -> tuple[Select, Select]:
    """The count of the matching records, and their page in ``order`` (no offset yet)."""
    count = select(func.count()).select_from(TABLE).where(*matching)
    # The total rides on every row as an uncorrelated subquery, which the database runs
    # once: one round trip for page and count. Not COUNT(*) OVER (): MariaDB then reads and
    # sorts every match instead of the page from the index (6x the time at 10,000 rows).
    counted = [count.correlate(None).scalar_subquery().label(TOTAL_LABEL)] if include_total else []
    query = select(*TABLE.c, *counted).where(*matching).order_by(*_order_by(order)).limit(LIMIT)
    return count, query


@functools.lru_cache(maxsize=128)
def _unfiltered(order: tuple[str, ...], include_total: bool) -> tuple[database.Query, database.Query]:
    """``_page_statements`` without filters, built and compiled once per order, run on the
    cursor (``database.fetch_all``): a new statement costs its construction and SQLAlchemy's
    cache key on every request (8 % of a page's CPU), its execution machinery 6 % more."""
    count, query = _page_statements([], order, include_total)
    return database.Query(count), database.Query(query.offset(OFFSET))


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
    params = {LIMIT.key: per_page + 1}
    if after is None:
        params[OFFSET.key] = (page - 1) * per_page
    # As get(): the read engine. One statement gives the page and the count the same snapshot;
    # one more row than the page tells whether a next page exists.
    if not matching and after is None:
        unfiltered_count, unfiltered = _unfiltered(tuple(order), include_total)
        rows: Sequence[Any] = database.fetch_all(unfiltered, params)
        counted = lambda: database.fetch_all(unfiltered_count, {})[0][0]  # noqa: E731
    else:
        count, query = _page_statements(matching, order, include_total)
        if after is None:
            query = query.offset(OFFSET)
        else:
            after_sort, key = after
            if any(item.lstrip("-") not in CURSOR_SORTABLE for item in order):
                detail = f"A cursor follows a sort on {' and '.join(sorted(CURSOR_SORTABLE))} only."
                raise InvalidInput(detail, {"after": [detail]})
            if list(after_sort) != list(sort) or len(key) != len(order):
                detail = "The cursor belongs to another sort order."
                raise InvalidInput(detail, {"after": [detail]})
            query = query.where(_after(order, key))
        rows = database.read(lambda conn: conn.execute(query, params).all())
        counted = lambda: database.read(lambda conn: conn.execute(count).scalar_one())  # noqa: E731
    total = None
    if include_total:  # no row carries it past the last page: only then a second query
        total = getattr(rows[0], TOTAL_LABEL) if rows else counted()
    items = rows[:per_page]
    next_after = None
    if len(rows) > per_page:
        last = items[-1]
        next_after = [list(sort), [getattr(last, item.lstrip("-")) for item in order]]
    return Page(items, None if after is not None else page, per_page, total, next_after)


class RenderedPage(NamedTuple):
    """A page as ``render`` made it: the bytes, the page without its items (numbers and
    cursor, for the links), from the cache?"""

    body: bytes
    page: Page
    hit: bool


def get_all_cached(*, render: RenderPage, **query: Any) -> RenderedPage:
    """``render(get_all(**query))``, read through the cache."""
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"))
    ident = hashlib.sha256(canonical.encode()).hexdigest()

    def load() -> bytes:
        page = get_all(**query)
        # The page's numbers ride in the entry, before the body (one line of JSON).
        numbers = [page.page, page.per_page, page.total, page.next_after]
        return json.dumps(numbers, separators=(",", ":")).encode() + b"\n" + render(page)

    layout = EntryFormat(render.version)
    entry, hit = cache.read_through(LIST_CACHE_KIND, ident, load, fmt=layout, shared=True)
    numbers, _, body = entry.partition(b"\n")
    number, per_page, total, next_after = json.loads(numbers)
    return RenderedPage(body, Page((), number, per_page, total, next_after), hit)


def revision(*, wdtest_id: str, version: int, created_at: datetime) -> str:
    """An opaque token naming one state of a record (the API's ETag). ``created_at`` tells a
    record re-created under a deleted one's id (both start at version 1) from the old one."""
    micros = (created_at - EPOCH) // timedelta(microseconds=1)
    lifetime = hashlib.blake2b(f"{wdtest_id}|{micros}".encode(), digest_size=6).hexdigest()
    return f"{version}-{lifetime}"


def _revision_of(record) -> str:
    return revision(wdtest_id=record.id, version=record.version, created_at=record.created_at)


def _result(values: Mapping[str, Any]) -> SimpleNamespace:
    """What a write returns: the record's column values as committed, and its revision."""
    return SimpleNamespace(**values, revision=_revision_of(SimpleNamespace(**values)))


def _encode(result: SimpleNamespace | None) -> str:
    """A write's result as JSON, kept with its idempotency key (see ``_decode``)."""
    if result is None:
        return "null"
    return json.dumps({c.key: jsonable(getattr(result, c.key)) for c in TABLE.c})


def _decode(encoded: str) -> SimpleNamespace | None:
    values = json.loads(encoded)
    if values is None:
        return None
    for column in TABLE.c:
        if isinstance(column.type, UTCDateTime) and values[column.key] is not None:
            values[column.key] = datetime.fromisoformat(values[column.key])
    return _result(values)


# If-Match: * -- any revision of a record that exists (RFC 9110 13.1.1).
ANY_REVISION = "*"


def _begin() -> None:
    """Start a write transaction. SQLite has no row locks: take its write lock now (waiting
    for other writers up to the busy timeout), so everything read after is current."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.rollback()  # nothing may be pending before BEGIN
        db.session.execute(text("BEGIN IMMEDIATE"))


def _current(wdtest_id: str, expected: Collection[str] | None) -> Wdtest:
    """The record as it is now, at one of the ``expected`` revisions (None: any;
    ``ANY_REVISION`` in it: any, as long as it exists). No lock: the write's UPDATE or
    DELETE names the version read here (the mapper's ``version_id_col``) and matches no
    row if another write came first (StaleDataError: the transaction runs again). On
    Galera that compare-and-set is certified on every node, where a row lock is not.
    Raises NotFound, PreconditionFailed."""
    query = select(Wdtest).where(Wdtest.id == wdtest_id).execution_options(populate_existing=True)
    record = db.session.scalars(query).one_or_none()
    if record is None:
        if expected is not None:
            raise PreconditionFailed(f"No wdtest with id {wdtest_id!r}: the precondition does not hold.")
        raise NotFound(f"No wdtest with id {wdtest_id!r}.")
    if expected is not None and ANY_REVISION not in expected and _revision_of(record) not in expected:
        raise PreconditionFailed(
            f"Wdtest {wdtest_id!r} has changed (it is at version {record.version}).", version=record.version
        )
    return record


Stale = list[tuple[str, str | None]]  # cache items a write makes stale (``cache.invalidate``)
Work = Callable[[database.InsertRow, Stale], SimpleNamespace | None]


def _changed(wdtest_id: str) -> Stale:
    """What a change to a record makes stale: its entry, and every list page."""
    return [(CACHE_KIND, wdtest_id), (LIST_CACHE_KIND, None)]


def _in_session(row: database.RowInsert, params: Mapping[str, Any]) -> dict[str, Any]:
    return row.run(db.session, params)


def _write(work: Work, *, wdtest_id: str | None = None, inserts_only: bool = False) -> SimpleNamespace | None:
    """Run ``work`` as one keyed, retried write transaction (``database.transaction``);
    ``work`` inserts rows with the function it gets and appends the cache items it makes
    stale to the list it gets. They are invalidated once COMMIT was sent, also when its
    answer was lost, and again when a retry finds its first attempt committed (that attempt
    may have died before). ``inserts_only``: ``work`` touches no ORM object; with no
    idempotency key either, it runs without a session (``database.insert_transaction``)."""
    stale: Stale = []

    def invalidate() -> None:
        if stale:
            cache.invalidate(*dict.fromkeys(stale))

    if inserts_only and not idempotency_keys.active():

        def rows_only(insert: database.InsertRow) -> SimpleNamespace | None:
            stale.clear()
            return work(insert, stale)

        return database.insert_transaction(rows_only, engine=db.engine, after=invalidate)

    def attempt() -> SimpleNamespace | None:
        stale.clear()
        _begin()
        replayed = [True]

        def first() -> SimpleNamespace | None:
            replayed[0] = False
            return work(_in_session, stale)

        result = idempotency_keys.once(first, encode=_encode, decode=_decode)
        if replayed[0]:
            for i in (wdtest_id, getattr(result, "id", None)):
                if i is not None:
                    stale.extend(_changed(i))
        return result

    return database.transaction(attempt, session=db.session, after=invalidate)


def create(*, data: Mapping[str, Any]) -> SimpleNamespace:
    """Insert a record (id generated when absent) at version 1; return it as committed.
    Raises Conflict on a taken id."""
    unknown = set(data) - {"id", *WRITABLE}
    if unknown:  # the prepared INSERT would leave them out silently: a bug, never a no-op
        raise TypeError(f"Not writable columns of a wdtest: {sorted(unknown)}")

    def work(insert: database.InsertRow, stale: Stale) -> SimpleNamespace:
        # INSERTs, not the ORM's unit of work (a third of a POST's CPU): the table's column
        # defaults still fill the id and timestamps, and the mapper names the version.
        try:
            inserted = insert(INSERT, {**data, "version": FIRST_VERSION})
        except IntegrityError:
            # The primary key is the only unique constraint: this is a taken id,
            # also when a concurrent request inserted it first.
            raise Conflict(f"A wdtest with id {data.get('id')!r} already exists.") from None
        # A column given no value and no default is NULL (no column has a server default).
        values = {c.key: inserted.get(c.key) for c in TABLE.c}
        # Same transaction: the event commits with the record or not at all.
        insert(outbox.INSERT, outbox.row(event_type="wdtest.created", record=values))
        # A new id has no cache entry: a reader that missed it cached nothing (404s are not
        # cached), and the delete before any re-creation of an id invalidated its entry.
        stale.append((LIST_CACHE_KIND, None))
        return _result(values)

    created = _write(work, inserts_only=True)
    assert created is not None  # a create's result is its record
    return created


def update(
    *, wdtest_id: str, changes: Mapping[str, Any], expected: Collection[str] | None = None
) -> SimpleNamespace:
    """Apply ``changes`` (any of WRITABLE) and return the record as committed.
    ``expected``: change only a record at one of these revisions (else PreconditionFailed).
    Nothing changes, and no event is written, when the values are already those.
    Raises NotFound, InvalidInput, PreconditionFailed."""
    if changes.get("id", wdtest_id) != wdtest_id:
        raise InvalidInput("The id cannot be changed.", {"id": ["The id cannot be changed."]})
    unknown = set(changes) - {"id", *WRITABLE}
    if unknown:  # an input field without a column: a bug, never a silent no-op
        raise TypeError(f"Not writable columns of a wdtest: {sorted(unknown)}")

    def work(_insert: database.InsertRow, stale: Stale) -> SimpleNamespace:
        record = _current(wdtest_id, expected)
        for field, value in changes.items():
            if field != "id":
                setattr(record, field, value)
        if db.session.is_modified(record):
            # Flushes: UPDATE ... SET version = v + 1 WHERE id = :id AND version = v.
            outbox.add(event_type="wdtest.updated", record=record)
            stale.extend(_changed(wdtest_id))
        return _result(column_values(record))

    updated = _write(work, wdtest_id=wdtest_id)
    assert updated is not None  # an update's result is its record
    return updated


def delete(*, wdtest_id: str, expected: Collection[str] | None = None) -> None:
    """Delete a record; its event carries the final version + 1.
    ``expected``: delete only a record at one of these revisions (else PreconditionFailed).
    Raises NotFound, PreconditionFailed."""

    def work(_insert: database.InsertRow, stale: Stale) -> None:
        record = _current(wdtest_id, expected)
        outbox.add(event_type="wdtest.deleted", record=record, version=record.version + 1)
        db.session.delete(record)
        db.session.flush()  # DELETE ... WHERE id = :id AND version = v
        stale.extend(_changed(wdtest_id))

    _write(work, wdtest_id=wdtest_id)
