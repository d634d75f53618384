"""GET /api/v1/wdtests: filters, sort, pagination, headers and rejected parameters."""

import re

import pytest

from tests.helpers.builders import PEOPLE, post_wdtests
from tests.helpers.builders import WDTESTS_URL as URL
from tests.helpers.problems import assert_problem


@pytest.fixture
def people(client):
    post_wdtests(client, PEOPLE)
    return client


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def links(response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])}


# Each filter and sort rule is tested on the service (tests/services/test_wdtests_service.py);
# these prove query strings reach it intact: decoding, lists, escapes, several filters at once.
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("id__in=1,3,404", ["1", "3"]),
        ("name__ne=wade&age=20", ["2", "9"]),
        ("name__like=50\\%25%25", ["6"]),  # the client's own escape: a literal %
        ("name__contains=%25_", ["6"]),  # % and _ are literal in contains
        ("name__contains=\\", ["8"]),
        ("age__in=25,30", ["3", "5"]),
        ("age__gte=20&age__lte=25&name__startswith=wa", ["1", "2", "5"]),
    ],
)
def test_filters(people, query, expected):
    assert ids(people.get(f"{URL}?{query}")) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["1", "2", "3", "4", "5", "6", "7", "8", "9"]),
        ("age,-id", ["4", "9", "2", "1", "5", "3", "6", "7", "8"]),
    ],
)
def test_sort(people, sort, expected):
    assert ids(people.get(f"{URL}?sort={sort}" if sort else URL)) == expected


def test_pagination_body_and_headers(people):
    response = people.get(f"{URL}?per_page=4&page=2&name__ne=x")
    body = response.get_json()
    assert ids(response) == ["5", "6", "7", "8"]
    assert (body["page"], body["per_page"], body["pages"], body["total"]) == (2, 4, 3, 9)
    assert response.headers["X-Total-Count"] == "9"
    rels = links(response)
    assert set(rels) == {"first", "prev", "next", "last"}
    assert "page=1" in rels["first"] and "page=3" in rels["last"]
    assert "page=1" in rels["prev"] and "page=3" in rels["next"]
    assert all("per_page=4" in url and "name__ne=x" in url for url in rels.values())


def test_links_follow_to_every_page(people):
    seen, url = [], f"{URL}?per_page=2"
    while url:
        response = people.get(url)
        seen += ids(response)
        url = links(response).get("next")
    assert seen == [p[0] for p in PEOPLE]


def test_defaults_and_edges(people):
    body = people.get(URL).get_json()
    assert (body["page"], body["per_page"], body["pages"], body["total"]) == (1, 20, 1, 9)
    assert set(links(people.get(URL))) == {"first", "last"}
    beyond = people.get(f"{URL}?page=99")
    assert beyond.status_code == 200 and beyond.get_json()["items"] == []
    assert "page=1" in links(beyond)["last"]


def test_empty_table(client):
    response = client.get(URL)
    assert response.get_json() == {
        "items": [],
        "page": 1,
        "per_page": 20,
        "pages": 0,
        "total": 0,
        "next_cursor": None,
    }
    assert response.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("foo=1", "foo"),
        ("name__regex=a", "name__regex"),
        ("age=abc", "age"),
        ("age=1.5", "age"),
        ("age=1_0", "age"),
        ("age__gt=", "age__gt"),
        ("age__in=1,x", "age__in.1"),
        ("id__in=", "id__in.0"),
        ("id__in=a b", "id__in.0"),
        ("name=", "name"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("sort=height", "sort.0"),
        ("sort=age,,id", "sort.1"),
        ("sort=+age", "sort.0"),
        ("age=1&age=2", "age"),
        # Beyond what a backend can bind: 400, never a 500 from SQLite or MySQL.
        ("page=99999999999999999999", "page"),
        ("page=1000000001", "page"),
        ("age=99999999999999999999999", "age"),
        ("age__gt=-99999999999999999999999", "age__gt"),
        ("age__in=1,99999999999999999999999", "age__in.1"),
        ("id=abc%0A", "id"),
        ("id__in=a,b%0A", "id__in.1"),
    ],
)
def test_bad_parameters_are_400_naming_them(client, query, param):
    body = assert_problem(client.get(f"{URL}?{query}"), 400, param)
    assert param.split(".")[0] in body["detail"]
