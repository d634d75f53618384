"""Schemas and fields, with no app: what input is accepted and what is refused."""

import pytest
from marshmallow import ValidationError

from api.schemas.wdtests import WdtestCreate, WdtestQuery, WdtestUpdate

wdtest_create, wdtest_query, wdtest_update = WdtestCreate(), WdtestQuery(), WdtestUpdate()


def errors(schema, data, **kwargs):
    with pytest.raises(ValidationError) as info:
        schema.load(data, **kwargs)
    return info.value.messages


def test_create_defaults_age_to_none_and_leaves_id_to_the_service():
    assert wdtest_create.load({"name": "wade"}) == {"name": "wade", "age": None}


def test_update_is_partial_without_defaults():
    assert wdtest_update.load({"age": 3}) == {"age": 3}
    assert wdtest_update.load({}) == {}
    assert "name" in errors(wdtest_update, {"name": None})


@pytest.mark.parametrize("name", ["x" * 20, "王" * 20, "😀" * 20])
def test_name_length_counts_characters(name):
    assert wdtest_create.load({"name": name})["name"] == name


@pytest.mark.parametrize("age", [True, False, "1", 1.5, 1e400, -1, 151])
def test_age_must_be_an_integer_in_range(age):
    assert "age" in errors(wdtest_create, {"name": "x", "age": age})


def test_unknown_fields_are_rejected():
    assert errors(wdtest_create, {"name": "x", "nick": "y"}) == {"nick": ["Unknown field."]}


def test_query_defaults():
    # no sort: ordered by id
    assert wdtest_query.load({}) == {"page": 1, "per_page": 20, "include_total": True}


def test_query_types_values():
    loaded = wdtest_query.load({"age__in": "1,2", "id__in": "a,b", "sort": "age,-id", "age__gt": "-3"})
    assert loaded["age__in"] == [1, 2]
    assert loaded["id__in"] == ["a", "b"]
    assert loaded["sort"] == ["age", "-id"]
    assert loaded["age__gt"] == -3


@pytest.mark.parametrize("value", ["1_0", "١", " 1", "1.0", "0x1", ""])
def test_query_integers_are_ascii_digits(value):
    assert "age" in errors(wdtest_query, {"age": value})


def test_the_cache_format_version_follows_the_output_schema():
    from marshmallow import Schema, fields

    from api.contract.rendered import JSONRenderer, schema_version
    from api.resources.wdtests import render_page, render_wdtest
    from api.schemas.wdtests import WdtestOut, WdtestPage

    assert render_wdtest.version == schema_version(WdtestOut()) == JSONRenderer(WdtestOut()).version
    assert render_page.version == JSONRenderer(WdtestPage()).version != render_wdtest.version

    class Renamed(WdtestOut):
        nickname = fields.String()

    class Retyped(WdtestOut):
        age = fields.String(allow_none=True)

    class Page(Schema):
        items = fields.List(fields.Nested(WdtestOut))

    class PageOfRenamed(Schema):
        items = fields.List(fields.Nested(Renamed))

    versions = {schema_version(s()) for s in (WdtestOut, Renamed, Retyped)}
    assert len(versions) == 3
    assert schema_version(Page()) != schema_version(PageOfRenamed())


def test_an_integral_number_is_an_integer():
    # JSON Schema 2020-12 (OpenAPI 3.1): 20.0 is an integer, so a generated client may send it.
    assert wdtest_create.load({"name": "x", "age": 20.0}) == {"name": "x", "age": 20}
