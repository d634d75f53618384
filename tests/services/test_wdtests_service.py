"""services.wdtests against a real database, without HTTP."""

import pytest

from core.errors import Conflict, InvalidInput, NotFound
from services import wdtests
from tests.helpers.builders import PEOPLE, add_wdtests
from tests.helpers.round_trips import statements_sent


@pytest.fixture
def rows(app_ctx):
    for id_, name, age in [("a", "x%y", 1), ("b", "x_y", 2), ("c", "xzy", None), ("d", "X%Y", 3)]:
        wdtests.create(data={"id": id_, "name": name, "age": age})


def test_create_and_get(app_ctx):
    record = wdtests.create(data={"name": "wade", "age": 20})
    assert len(record.id) == 36
    assert wdtests.get(wdtest_id=record.id).name == "wade"
    assert record.created_at.tzinfo is not None


def test_create_taken_id_raises_conflict_and_session_stays_usable(app_ctx):
    wdtests.create(data={"id": "1", "name": "a"})
    with pytest.raises(Conflict):
        wdtests.create(data={"id": "1", "name": "b"})
    assert wdtests.get(wdtest_id="1").name == "a"
    wdtests.create(data={"id": "2", "name": "c"})


def test_create_refuses_a_field_without_a_writable_column(app_ctx):
    with pytest.raises(TypeError, match="version"):
        wdtests.create(data={"name": "a", "version": 7})


def test_get_missing_raises_not_found(app_ctx):
    with pytest.raises(NotFound):
        wdtests.get(wdtest_id="none")


def test_update_and_id_guard(app_ctx):
    wdtests.create(data={"id": "1", "name": "a", "age": 1})
    assert wdtests.update(wdtest_id="1", changes={"age": 2}).age == 2
    with pytest.raises(InvalidInput) as info:
        wdtests.update(wdtest_id="1", changes={"id": "2"})
    assert "id" in info.value.extra["errors"]
    with pytest.raises(NotFound):
        wdtests.update(wdtest_id="zz", changes={"age": 2})


def test_delete(app_ctx):
    wdtests.create(data={"id": "1", "name": "a"})
    wdtests.delete(wdtest_id="1")
    with pytest.raises(NotFound):
        wdtests.delete(wdtest_id="1")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"name__contains": "%"}, ["a", "d"]),
        ({"name__contains": "_"}, ["b"]),
        ({"name__like": "x_y"}, ["a", "b", "c"]),
        ({"name__like": "x\\_y"}, ["b"]),
        ({"name__startswith": "X"}, ["d"]),
        ({"age__in": [1, 3]}, ["a", "d"]),
        ({"id__in": ["c", "a"], "age__lt": 5}, ["a"]),
    ],
)
def test_get_all_filters(rows, filters, expected):
    assert [r.id for r in wdtests.get_all(filters=filters).items] == expected


def test_get_all_sort_and_pages(rows):
    page = wdtests.get_all(sort=["-age"], page=2, per_page=2)
    assert [r.id for r in page.items] == ["a", "c"]  # nulls last when descending
    assert (page.total, page.pages) == (4, 2)


@pytest.fixture
def people(app_ctx):
    add_wdtests(PEOPLE)


def ids(page) -> list[str]:
    return [record.id for record in page.items]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"id": "3"}, ["3"]),
        ({"id__in": ["1", "3", "404"]}, ["1", "3"]),
        ({"name": "wade"}, ["1"]),  # case-sensitive on every backend
        ({"name__ne": "wade", "age": 20}, ["2", "9"]),
        ({"name__startswith": "wa"}, ["1", "2", "5"]),
        ({"name__endswith": "g"}, ["2", "5"]),
        ({"name__contains": "an"}, ["2"]),
        ({"name__like": "w_g"}, ["5"]),
        ({"name__like": "%a%"}, ["1", "2", "3", "5", "8", "9"]),
        ({"name__like": "50\\%%"}, ["6"]),  # the caller's own escape: a literal %
        ({"name__contains": "%_"}, ["6"]),  # % and _ are literal in contains
        ({"name__startswith": "50%"}, ["6"]),
        ({"name__endswith": "_off"}, ["6"]),
        ({"name__contains": "_"}, ["6"]),
        ({"name__contains": "\\"}, ["8"]),
        ({"name__startswith": "back\\s"}, ["8"]),
        ({"age": 20}, ["1", "2", "9"]),
        ({"age__ne": 20}, ["3", "5", "6", "7", "8"]),  # null ages never match a comparison
        ({"age__gt": 30}, ["6", "7", "8"]),
        ({"age__gte": 30}, ["3", "6", "7", "8"]),
        ({"age__lt": 25}, ["1", "2", "9"]),
        ({"age__lte": 25}, ["1", "2", "5", "9"]),
        ({"age__in": [25, 30]}, ["3", "5"]),
        ({"age__gte": 20, "age__lte": 25, "name__startswith": "wa"}, ["1", "2", "5"]),
    ],
)
def test_get_all_filter_rules(people, filters, expected):
    assert ids(wdtests.get_all(filters=filters)) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ((), ["1", "2", "3", "4", "5", "6", "7", "8", "9"]),
        (["-id"], ["9", "8", "7", "6", "5", "4", "3", "2", "1"]),
        (["age"], ["4", "1", "2", "9", "5", "3", "6", "7", "8"]),  # nulls first, ties by id
        (["age", "-id"], ["4", "9", "2", "1", "5", "3", "6", "7", "8"]),
        (["-age", "name"], ["8", "7", "6", "3", "5", "9", "1", "2", "4"]),
    ],
)
def test_get_all_sort_rules(people, sort, expected):
    assert ids(wdtests.get_all(sort=sort)) == expected


@pytest.mark.parametrize(
    ("filters", "page", "after", "expected_total", "statements"),
    [
        ({}, 1, None, 4, 1),  # the count rides on the page's rows
        ({"age__gte": 2}, 1, None, 2, 1),  # filtered as the page is
        ({}, 3, None, 4, 2),  # past the end: no row carries it, so a second query
        ({"name": "none"}, 1, None, 0, 2),
        ({}, 1, [[], ["b"]], 4, 1),  # a cursor page counts every match, not those after it
    ],
)
def test_get_all_counts_in_the_pages_statement(rows, filters, page, after, expected_total, statements):
    wdtests.get_all(per_page=1)  # the read pool connects (its own statements: not per read)
    with statements_sent(wdtests.db.read_engine) as sent:  # reads run there (extensions.database)
        result = wdtests.get_all(filters=filters, page=page, per_page=2, after=after)
    assert result.total == expected_total
    assert sent.count("SELECT") == statements
