"""Every query of the tutorial (section 3.4), each answered by one API request.

Each test runs the tutorial's query with SQLAlchemy directly and checks the
request named in its docstring returns the same records.
"""

import pytest
from sqlalchemy import and_, not_, select

from extensions import db
from models import Wdtest
from tests.helpers.builders import WDTESTS_URL as URL
from tests.helpers.builders import post_wdtests

ROWS = [
    ("97124f50-0208-11ea-a66c-04ea56212bdf", "wade", 20),
    ("3", "wang", 20),
    ("a1", "jack", 31),
    ("a2", "wag", 20),
    ("a3", "rose", 25),
    ("a4", "bing", 18),
    ("a5", "waldo", 20),
    ("a6", "kong", None),
]


@pytest.fixture
def tutorial(app, client):
    post_wdtests(client, ROWS)
    with app.app_context():
        yield client


def api_ids(client, query=""):
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def orm_ids(*where, order=(Wdtest.id,)):
    return list(db.session.scalars(select(Wdtest.id).where(*where).order_by(*order)))


def test_all(tutorial):
    """Wdtest.query.all() -> GET /wdtests?per_page=100"""
    assert api_ids(tutorial, "per_page=100") == orm_ids()
    assert len(orm_ids()) == len(ROWS)


def test_count(tutorial):
    """Wdtest.query.count() -> GET /wdtests?per_page=1: total / X-Total-Count"""
    response = tutorial.get(f"{URL}?per_page=1")
    count = db.session.query(Wdtest).count()
    assert response.get_json()["total"] == count == len(ROWS)
    assert response.headers["X-Total-Count"] == str(count)


def test_first(tutorial):
    """Wdtest.query.first() -> GET /wdtests?per_page=1: items[0] (ordered by id)"""
    first = db.session.scalars(select(Wdtest).order_by(Wdtest.id).limit(1)).first()
    assert api_ids(tutorial, "per_page=1") == [first.id]


def test_get_by_primary_key(tutorial):
    """Wdtest.query.get(3) -> GET /wdtests/3"""
    record = db.session.get(Wdtest, "3")
    body = tutorial.get(f"{URL}/3").get_json()
    assert (body["id"], body["name"], body["age"]) == (record.id, record.name, record.age)


def test_filter_by(tutorial):
    """Wdtest.query.filter_by(id=3).all() -> GET /wdtests?id=3"""
    assert api_ids(tutorial, "id=3") == list(db.session.scalars(select(Wdtest.id).filter_by(id="3"))) == ["3"]


def test_filter_equals(tutorial):
    """Wdtest.query.filter(Wdtest.id == 3).all() -> GET /wdtests?id=3"""
    assert api_ids(tutorial, "id=3") == orm_ids(Wdtest.id == "3") == ["3"]


def test_endswith(tutorial):
    """Wdtest.query.filter(Wdtest.name.endswith('g')).all() -> GET /wdtests?name__endswith=g"""
    expected = orm_ids(Wdtest.name.endswith("g"))
    assert api_ids(tutorial, "name__endswith=g") == expected
    assert len(expected) == 4


def test_contains(tutorial):
    """Wdtest.query.filter(Wdtest.name.contains('wa')).all() -> GET /wdtests?name__contains=wa"""
    expected = orm_ids(Wdtest.name.contains("wa"))
    assert api_ids(tutorial, "name__contains=wa") == expected
    assert len(expected) == 4


def test_like(tutorial):
    """Wdtest.query.filter(Wdtest.name.like('%a%')).all() -> GET /wdtests?name__like=%25a%25"""
    expected = orm_ids(Wdtest.name.like("%a%"))
    assert api_ids(tutorial, "name__like=%25a%25") == expected
    assert len(expected) == 5


def test_startswith_and_age(tutorial):
    """filter(name.startswith('wa'), age == 20) and and_(...) -> GET /wdtests?name__startswith=wa&age=20"""
    expected = orm_ids(Wdtest.name.startswith("wa"), Wdtest.age == 20)
    assert expected == orm_ids(and_(Wdtest.name.startswith("wa"), Wdtest.age == 20))
    assert api_ids(tutorial, "name__startswith=wa&age=20") == expected
    assert len(expected) == 4


def test_not_equal(tutorial):
    """filter(not_(name == 'wade')) and filter(name != 'wade') -> GET /wdtests?name__ne=wade"""
    expected = orm_ids(Wdtest.name != "wade")
    assert expected == orm_ids(not_(Wdtest.name == "wade"))
    assert api_ids(tutorial, "name__ne=wade") == expected
    assert len(expected) == len(ROWS) - 1


def test_in(tutorial):
    """filter(Wdtest.id.in_(['97124f50-...', '3'])) -> GET /wdtests?id__in=97124f50-...,3"""
    wanted = ["97124f50-0208-11ea-a66c-04ea56212bdf", "3"]
    expected = orm_ids(Wdtest.id.in_(wanted))
    assert api_ids(tutorial, f"id__in={','.join(wanted)}") == expected
    assert sorted(expected) == sorted(wanted)


def test_order_by_age_then_id_desc_limit_5(tutorial):
    """order_by(Wdtest.age, Wdtest.id.desc()).limit(5) -> GET /wdtests?sort=age,-id&per_page=5"""
    expected = list(db.session.scalars(select(Wdtest.id).order_by(Wdtest.age, Wdtest.id.desc()).limit(5)))
    assert api_ids(tutorial, "sort=age,-id&per_page=5") == expected
    assert expected[0] == "a6"  # null age sorts first on both backends


def test_paginate_page_2_of_3(tutorial):
    """Wdtest.query.paginate(2, 3): pages, page, items -> GET /wdtests?page=2&per_page=3"""
    pn = db.paginate(select(Wdtest).order_by(Wdtest.id), page=2, per_page=3, error_out=False)
    body = tutorial.get(f"{URL}?page=2&per_page=3").get_json()
    assert (body["pages"], body["page"]) == (pn.pages, pn.page) == (3, 2)
    assert [item["id"] for item in body["items"]] == [r.id for r in pn.items]
