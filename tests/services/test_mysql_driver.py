"""PyMySQL connections that parse each distinct column definition once (extensions.mysql_driver)."""

from __future__ import annotations

import pytest
from pymysql.protocol import FieldDescriptorPacket
from sqlalchemy import text

from extensions import database, db, mysql_driver
from services import wdtests


@pytest.fixture
def parsed(app_ctx, backend, monkeypatch):
    """Column definitions parsed from here on (a fresh table of them)."""
    if backend != "mysql":
        pytest.skip("the connection class is PyMySQL's")
    monkeypatch.setattr(mysql_driver, "_columns", {})
    seen: list[str] = []
    parse = FieldDescriptorPacket._parse_field_descriptor

    def counted(packet, encoding):
        parse(packet, encoding)
        seen.append(packet.name)

    monkeypatch.setattr(FieldDescriptorPacket, "_parse_field_descriptor", counted)
    return seen


def test_both_engines_connect_with_the_caching_connection(app_ctx, backend):
    if backend != "mysql":
        pytest.skip("the connection class is PyMySQL's")
    for engine in app_ctx.extensions[database.ENGINES]:
        with engine.connect() as conn:
            assert isinstance(conn.connection.dbapi_connection, mysql_driver.Connection)


def test_a_statements_columns_are_parsed_once_and_read_right(parsed):
    wdtests.create(data={"id": "m1", "name": "one", "age": 1})
    wdtests.create(data={"id": "m2", "name": "two", "age": None})
    assert wdtests.get(wdtest_id="m1").name == "one"  # parses the statement's columns (and connects)
    assert {c.key for c in wdtests.TABLE.c} <= set(parsed)
    del parsed[:]
    assert (wdtests.get(wdtest_id="m1").name, wdtests.get(wdtest_id="m1").age) == ("one", 1)
    assert (wdtests.get(wdtest_id="m2").name, wdtests.get(wdtest_id="m2").age) == ("two", None)
    assert parsed == []  # four more reads, nothing parsed again


def test_the_same_name_of_another_type_is_another_definition(parsed):
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT 7 AS v")).scalar_one() == 7
        assert conn.execute(text("SELECT 'seven' AS v")).scalar_one() == "seven"
        assert conn.execute(text("SELECT 7 AS v")).scalar_one() == 7
    assert parsed.count("v") == 2  # besides the dialect's first-connect queries
