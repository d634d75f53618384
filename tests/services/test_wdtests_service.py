"""services.wdtests against a real database, without HTTP."""

import pytest

from services import wdtests
from services.errors import Conflict, InvalidInput, NotFound


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
