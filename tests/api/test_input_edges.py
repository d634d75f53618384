"""Input no client should be able to slip past: every one is a 400 problem, never a 404,
a silently replaced character, or a response that is not JSON."""

import pytest

from tests.helpers.problems import assert_problem


def test_a_key_with_a_newline_is_refused_not_unrouted(http):
    body = assert_problem(http.get("/api/v1/redis/keys/a%0Ab"), 400)
    assert body["errors"]["key"]


@pytest.mark.parametrize(
    "path", ["/api/v1/redis/keys/alias\xff", "/api/v1/redis/keys/alias\xfe", "/api/v1/rabbitmq/queues/q\xc3"]
)
def test_a_path_that_is_not_utf8_is_refused(http, path):
    # The WSGI environ carries the raw bytes as latin-1; werkzeug would replace them with U+FFFD.
    response = http.get("/", environ_overrides={"PATH_INFO": path})
    assert "UTF-8" in assert_problem(response, 400)["detail"]


def test_a_utf8_path_is_accepted(http):
    response = http.get("/", environ_overrides={"PATH_INFO": "/api/v1/demo/users/\xc3\xa9t\xc3\xa9"})
    assert response.status_code == 200 and response.get_json() == {"id": "été"}


@pytest.mark.parametrize("query", ["name=%FF", "name=ok&age=%C3", "%FE=1"])
def test_a_query_that_is_not_utf8_is_refused(http, query):
    assert "UTF-8" in assert_problem(http.get(f"/api/v1/wdtests?{query}"), 400)["detail"]


@pytest.mark.parametrize("key", [".", "..", "a/./b", "a/..", "../a"])
def test_dot_segment_keys_are_refused(http, key):
    body = assert_problem(http.put(f"/api/v1/redis/keys/{key}", json={"value": "x"}), 400)
    assert body["errors"]["key"]


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_queue_names_are_refused(http, name):
    # Checked before the broker is asked, so no RabbitMQ is needed.
    body = assert_problem(http.put(f"/api/v1/rabbitmq/queues/{name}"), 400)
    assert body["errors"]["name"]


@pytest.mark.parametrize(
    "raw", ['{"x": 1e309}', '{"x": -1e400}', '{"x": NaN}', '{"x": Infinity}', "[-Infinity]"]
)
def test_json_numbers_no_response_could_carry_are_refused(http, raw):
    response = http.post("/api/v1/demo/echo", data=raw, content_type="application/json")
    assert "not valid JSON" in assert_problem(response, 400)["detail"]


def test_echo_answers_valid_json_for_large_finite_numbers(http):
    raw = '{"big": 1.7976931348623157e308, "int": 100000000000000000000000000000}'
    response = http.post("/api/v1/demo/echo", data=raw, content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["json"] == {"big": 1.7976931348623157e308, "int": 10**29}


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/wdtests", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/api/v1/redis/keys/a/b", {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
        ("/api/v1/rabbitmq/queues/q1/messages", {"POST", "OPTIONS"}),
    ],
)
def test_options_is_204_with_allow(http, path, allowed):
    response = http.options(path)
    assert response.status_code == 204 and response.data == b""
    assert "Content-Type" not in response.headers
    assert set(response.headers["Allow"].split(", ")) == allowed


@pytest.mark.parametrize("tags", ['W/"9RQKh", "", ";W6``sT-x"', '""'])
def test_if_match_with_an_empty_entity_tag_is_412(http, tags):
    # Found by schemathesis: werkzeug parses "" as None, which once reached sorted() (500).
    record = http.post("/api/v1/wdtests", json={"name": "tags"}).get_json()
    response = http.put(f"/api/v1/wdtests/{record['id']}", json={"name": "x"}, headers={"If-Match": tags})
    assert_problem(response, 412)
