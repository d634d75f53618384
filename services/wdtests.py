"""Wdtest records: create, read, list with filters/sort/pagination, update, delete."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Wdtest
from services import cache, outbox
from services.errors import Conflict, InvalidInput, NotFound


class Render(Protocol):
    """Renders a record to response bytes; ``version`` names the format (see ``services.cache``)."""

    version: str

    def __call__(self, record: Wdtest, /) -> bytes: ...


class DumpPage(Protocol):
    """Dumps a page to a JSON-able dict; ``version`` names the format."""

    version: str

    def __call__(self, page: Pagination, /) -> dict: ...


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
# The columns clients may filter and sort on.
COLUMNS = {"id": Wdtest.id, "name": Wdtest.name, "age": Wdtest.age}
WRITABLE = ("name", "age")


def _condition(key: str, value: Any):
    field, _, op = key.partition("__")
    return OPERATORS[op or "eq"](COLUMNS[field], value)


def _order_by(sort: Iterable[str]):
    clauses: list[Any] = []
    seen: set[str] = set()
    for item in sort:
        name = item.lstrip("-")
        column = COLUMNS[name]
        clauses.append(column.desc() if item.startswith("-") else column.asc())
        seen.add(name)
    if "id" not in seen:
        clauses.append(Wdtest.id.asc())  # the primary key makes every order total
    return clauses


def get(*, wdtest_id: str) -> Wdtest:
    """Return one record. Raises NotFound."""
    record = db.session.get(Wdtest, wdtest_id)
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
) -> Pagination:
    """One page of records matching every filter (ANDed), in ``sort`` order, ties by id.

    ``filters`` maps ``field`` or ``field__op`` (see OPERATORS) to a typed value.
    """
    query = select(Wdtest).where(*(_condition(k, v) for k, v in (filters or {}).items()))
    query = query.order_by(*_order_by(sort))
    return db.paginate(query, page=page, per_page=per_page, max_per_page=None, error_out=False)


def get_all_cached(*, dump: DumpPage, **query: Any) -> tuple[dict, bool]:
    """``dump(get_all(**query))``, read through the cache; (page, hit)."""
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"))
    ident = hashlib.sha256(canonical.encode()).hexdigest()
    body, hit = cache.read_through(
        LIST_CACHE_KIND, ident, lambda: json.dumps(dump(get_all(**query))).encode(), fmt=dump, shared=True
    )
    return json.loads(body), hit


def create(*, data: Mapping[str, Any]) -> Wdtest:
    """Insert a record (id generated when absent). Raises Conflict on a taken id."""
    record = Wdtest(**data)
    db.session.add(record)
    try:
        outbox.add(event_type="wdtest.created", record=record)  # same transaction as the record
        db.session.commit()
    except IntegrityError:
        # The primary key is the only unique constraint: this is a taken id,
        # also when a concurrent request inserted it first.
        db.session.rollback()
        raise Conflict(f"A wdtest with id {record.id!r} already exists.") from None
    cache.invalidate((CACHE_KIND, record.id), (LIST_CACHE_KIND, None))
    return record


def update(*, wdtest_id: str, changes: Mapping[str, Any]) -> Wdtest:
    """Apply ``changes`` (name, age) to a record. Raises NotFound, InvalidInput."""
    if changes.get("id", wdtest_id) != wdtest_id:
        raise InvalidInput("The id cannot be changed.", {"id": ["The id cannot be changed."]})
    record = get(wdtest_id=wdtest_id)
    for field in WRITABLE:
        if field in changes:
            setattr(record, field, changes[field])
    outbox.add(event_type="wdtest.updated", record=record)
    db.session.commit()
    cache.invalidate((CACHE_KIND, wdtest_id), (LIST_CACHE_KIND, None))
    return record


def delete(*, wdtest_id: str) -> None:
    """Delete a record. Raises NotFound."""
    record = get(wdtest_id=wdtest_id)
    outbox.add(event_type="wdtest.deleted", record=record)  # the record as it was
    db.session.delete(record)
    db.session.commit()
    cache.invalidate((CACHE_KIND, wdtest_id), (LIST_CACHE_KIND, None))
