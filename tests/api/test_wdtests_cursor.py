"""GET /api/v1/wdtests with include_total=false and cursor pagination (after=, next_cursor)."""

import base64
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.helpers.builders import PEOPLE, post_wdtest, post_wdtests
from tests.helpers.builders import WDTESTS_URL as URL
from tests.helpers.problems import assert_problem


@pytest.fixture
def people(client):
    post_wdtests(client, PEOPLE)
    return client


def links(response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])}


def walk(client, url: str) -> list[str]:
    """Follow the next links from ``url``; the ids of every page, in order."""
    seen = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        seen += [item["id"] for item in response.get_json()["items"]]
        url = links(response).get("next")
    return seen


def test_without_total_there_is_no_count_and_no_last_link(people):
    response = people.get(f"{URL}?per_page=4&include_total=false")
    body = response.get_json()
    assert [item["id"] for item in body["items"]] == ["1", "2", "3", "4"]
    assert "total" not in body and "pages" not in body and body["page"] == 1
    assert "X-Total-Count" not in response.headers
    assert set(links(response)) == {"first", "next"}
    assert body["next_cursor"]
    # Page numbers still work without a total: the next link is page 2, and the last page has none.
    assert walk(people, f"{URL}?per_page=4&include_total=false") == [p[0] for p in PEOPLE]
    last = people.get(f"{URL}?per_page=4&include_total=false&page=3")
    assert last.get_json()["next_cursor"] is None and set(links(last)) == {"first", "prev"}


def test_cursor_walks_every_record_once(people):
    first = people.get(f"{URL}?per_page=2&include_total=false").get_json()
    response = people.get(f"{URL}?per_page=2&include_total=false&after={first['next_cursor']}")
    body = response.get_json()
    assert [item["id"] for item in body["items"]] == ["3", "4"]
    assert "page" not in body
    rels = links(response)
    assert set(rels) == {"first", "next"}
    assert parse_qs(urlsplit(rels["next"]).query)["after"] == [body["next_cursor"]]
    assert "after" not in parse_qs(urlsplit(rels["first"]).query)
    assert walk(people, f"{URL}?per_page=2&after={first['next_cursor']}") == [
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
    ]


@pytest.mark.parametrize(
    ("sort", "query"),
    [("name", ""), ("-name,-id", ""), ("-id", "&age__lte=30"), ("name", "&name__startswith=wa")],
)
def test_cursor_pages_match_the_sorted_list(people, sort, query):
    expected = [item["id"] for item in people.get(f"{URL}?sort={sort}{query}").get_json()["items"]]
    first = people.get(f"{URL}?per_page=2&sort={sort}{query}").get_json()
    after = [item["id"] for item in first["items"]]
    if first["next_cursor"]:
        after += walk(people, f"{URL}?per_page=2&sort={sort}{query}&after={first['next_cursor']}")
    assert after == expected


def test_cursor_is_stable_under_inserts(people):
    first = people.get(f"{URL}?per_page=3&include_total=false").get_json()
    assert [item["id"] for item in first["items"]] == ["1", "2", "3"]
    # Inserted before the cursor (would shift every page-number page by one) and after it.
    post_wdtest(people, id="0", name="early")
    post_wdtest(people, id="35", name="later")
    rest = walk(people, f"{URL}?per_page=3&include_total=false&after={first['next_cursor']}")
    assert rest == ["35", "4", "5", "6", "7", "8", "9"]


def cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        "not a cursor!",
        "%00",
        cursor({"a": 1}),
        cursor([[], [1]]),
        cursor([[], "1"]),
        cursor([[], [["1"]]]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "",
        cursor([[], ["1"]]) + "!",  # base64 would skip the "!": the documented pattern does not
    ],
)
def test_invalid_cursor_is_400_problem(people, after):
    assert_problem(people.get(f"{URL}?after={after}"), 400, "after")


def test_cursor_of_another_sort_or_shape_is_400(people):
    by_name = people.get(f"{URL}?per_page=2&sort=name").get_json()["next_cursor"]
    assert_problem(people.get(f"{URL}?after={by_name}"), 400, "after")
    assert_problem(people.get(f"{URL}?sort=name&after={cursor([['name'], ['x']])}"), 400, "after")


def test_cursor_refuses_age_sort_and_page(people):
    assert_problem(people.get(f"{URL}?sort=age&after={cursor([['age'], ['1', '1']])}"), 400, "after")
    after = people.get(f"{URL}?per_page=2").get_json()["next_cursor"]
    assert_problem(people.get(f"{URL}?page=2&after={after}"), 400, "after")


def test_include_total_must_be_a_boolean(people):
    assert_problem(people.get(f"{URL}?include_total=maybe"), 400, "include_total")
