"""The compiled dumper (api.contract.dumping) gives what ``schema.dump`` gives."""

from datetime import UTC, datetime
from types import SimpleNamespace

import marshmallow.schema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields, post_dump
from sqlalchemy import create_engine, insert, select

from api.contract.dumping import dumper
from api.schemas.wdtests import wdtest_out, wdtest_page
from extensions import database
from services.wdtests import TABLE, Page

ENGINE = create_engine("sqlite://")
TABLE.metadata.create_all(ENGINE, tables=[TABLE])

times = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(UTC))
records = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=100),
        "name": st.text(min_size=1, max_size=20),
        "age": st.none() | st.integers(0, 150),
        "created_at": times,
        "updated_at": times,
        "version": st.integers(1, 2**31 - 1),
    }
)


def as_rows(values: list[dict]) -> list:
    """The records as a filtered list's query hands them over: SQLAlchemy Rows, read back."""
    with ENGINE.begin() as conn:
        conn.execute(TABLE.delete())
        if values:
            conn.execute(insert(TABLE), values)
        return conn.execute(select(*TABLE.c).order_by(TABLE.c.id)).all()


def as_cursor_rows(values: list[dict]) -> list:
    """The same as reads by id and unfiltered pages hand them over: database.Query's named tuples."""
    as_rows(values)
    return database.Query(select(*TABLE.c).order_by(TABLE.c.id)).fetch(ENGINE, {}, one=False)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(records, max_size=5, unique_by=lambda r: r["id"]))
def test_records_dump_as_marshmallow_dumps_them(values):
    dump = dumper(wdtest_out)
    for row in [*as_rows(values), *as_cursor_rows(values)]:
        assert dump(row) == wdtest_out.dump(row)
    for record in values:  # what a write returns
        obj = SimpleNamespace(**record, revision="1-x")
        assert dump(obj) == wdtest_out.dump(obj)
        assert dump(record) == wdtest_out.dump(record)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(records, max_size=5, unique_by=lambda r: r["id"]),
    st.none() | st.integers(1, 10**9),
    st.integers(1, 100),
    st.none() | st.integers(0, 10**9),
    st.none() | st.just([["name"], ["a", "b"]]),
)
def test_pages_dump_as_marshmallow_dumps_them(values, number, per_page, total, next_after):
    page = Page(as_rows(values), number, per_page, total, next_after)
    assert dumper(wdtest_page)(page) == wdtest_page.dump(page)


def test_plain_fields_skip_marshmallows_field_walk(monkeypatch):
    row = as_rows([{"id": "a", "name": "n", "age": None, "created_at": datetime.now(UTC), "version": 1}])[0]
    page = Page([row, row], 1, 20, 2, None)
    dump_page = dumper(wdtest_page)
    called = []
    monkeypatch.setattr(fields.Field, "serialize", lambda self, *a, **k: called.append(self.name))
    dump_page(page)
    # Only the cursor (a custom field) goes through marshmallow; every item field is plain.
    assert called == ["next_cursor"]


def test_rows_are_read_by_attribute_without_marshmallows_accessor(monkeypatch):
    # marshmallow's accessor tries row[attr] first: a TypeError raised and caught per field.
    record = {"id": "a", "name": "n", "age": 3, "created_at": datetime.now(UTC), "version": 1}
    rows = [*as_rows([record]), *as_cursor_rows([record])]
    monkeypatch.setattr(marshmallow.schema, "get_value", lambda *a: pytest.fail("marshmallow's accessor"))
    for row in rows:
        assert dumper(wdtest_out)(row)["name"] == "n"


class Inner(Schema):
    when = fields.DateTime(format="%Y")
    count = fields.Integer(as_string=True)


class Odd(Schema):
    """What the dumper must take marshmallow's path for, or mirror exactly."""

    renamed = fields.String(data_key="shown", attribute="source")
    absent = fields.String(dump_default="none given")
    skipped = fields.Integer()
    method = fields.Method("twice")
    inner = fields.Nested(Inner)
    inners = fields.List(fields.Nested(Inner))
    many = fields.Nested(Inner, many=True)
    secret = fields.String(load_only=True)

    def twice(self, obj):
        return obj["skipped"] * 2 if "skipped" in obj else None

    @post_dump
    def mark(self, data, **kwargs):
        return {**data, "marked": True}


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"source": 5, "skipped": 2, "secret": "s"},
        {"absent": None, "inner": None, "inners": [None, {"count": 3}], "many": []},
        {"inner": {"when": datetime(2024, 5, 1), "count": 7}, "many": [{"count": 1}]},
    ],
)
def test_other_fields_hooks_and_keys_dump_as_marshmallow_dumps_them(obj):
    schema = Odd()
    assert dumper(schema)(obj) == schema.dump(obj)
