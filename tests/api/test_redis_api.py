"""HTTP behaviour of /api/v1/redis and the X-Cache header on GET /wdtests/<id>."""

from urllib.parse import quote

import pytest

from tests.helpers.problems import assert_problem
from tests.helpers.redis_support import require_test_redis

KEYS = "/api/v1/redis/keys"


@pytest.fixture
def redis_client(sqlite_app):
    require_test_redis()
    return sqlite_app.test_client()


def url(key: str) -> str:
    return f"{KEYS}/{quote(key, safe='')}"


def test_tutorial_demo_set_then_get(redis_client):
    """The tutorial's /redis demo: set a key, read it back."""
    response = redis_client.put(url("demo"), json={"value": "1233"})
    assert response.status_code == 201
    assert response.get_json() == {"key": "demo", "value": "1233", "ttl": None}
    assert redis_client.get(url("demo")).get_json() == {"key": "demo", "value": "1233", "ttl": None}


def test_put_201_then_200_and_ttl_counts_down(redis_client):
    assert redis_client.put(url("k"), json={"value": "a", "ttl": 60}).status_code == 201
    response = redis_client.put(url("k"), json={"value": "b", "ttl": 30})
    assert response.status_code == 200
    assert response.get_json() == {"key": "k", "value": "b", "ttl": 30}
    body = redis_client.get(url("k")).get_json()
    assert body["value"] == "b" and 0 < body["ttl"] <= 30


@pytest.mark.parametrize("key", ["with space", "é/ü 漢字", "😀", "100%", "a+b?c#d&e=f", "x" * 200])
def test_percent_encoded_keys_round_trip(redis_client, key):
    value = "binary-safe: \x00 \u2028 😀"
    assert redis_client.put(url(key), json={"value": value}).status_code == 201
    response = redis_client.get(url(key))
    assert response.status_code == 200
    assert response.get_json() == {"key": key, "value": value, "ttl": None}
    assert redis_client.delete(url(key)).status_code == 204
    assert_problem(redis_client.get(url(key)), 404)


def test_missing_key_is_404_on_get_and_delete(redis_client):
    assert_problem(redis_client.get(url("nope")), 404)
    assert_problem(redis_client.delete(url("nope")), 404)


@pytest.mark.parametrize("key", ["x" * 201, "\x07bell", "tab\t"])
def test_bad_key_is_400(redis_client, key):
    assert_problem(redis_client.put(url(key), json={"value": "v"}), 400, "key")
    assert_problem(redis_client.get(url(key)), 400, "key")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "value"),
        ({"value": 5}, "value"),
        ({"value": None}, "value"),
        ({"value": "v", "ttl": 0}, "ttl"),
        ({"value": "v", "ttl": 31536001}, "ttl"),
        ({"value": "v", "ttl": "5"}, "ttl"),
        ({"value": "v", "ttl": True}, "ttl"),
        ({"value": "v", "ttl": 1.5}, "ttl"),
        ({"value": "v", "extra": 1}, "extra"),
    ],
)
def test_bad_body_is_400_with_field_errors(redis_client, body, field):
    assert_problem(redis_client.put(url("k"), json=body), 400, field)
    assert_problem(redis_client.get(url("k")), 404)  # nothing was written


def test_lone_surrogate_value_is_400(redis_client):
    # Valid JSON, but not text that UTF-8 (and so Redis) can carry.
    response = redis_client.put(url("k"), data='{"value": "\\ud800"}', content_type="application/json")
    assert_problem(response, 400, "value")


def test_ttl_bounds_are_accepted(redis_client):
    assert redis_client.put(url("one"), json={"value": "v", "ttl": 1}).status_code == 201
    assert redis_client.put(url("max"), json={"value": "v", "ttl": 31536000}).status_code == 201


def test_value_over_64_kib_is_413(redis_client):
    assert redis_client.put(url("big"), json={"value": "x" * 65536}).status_code == 201
    body = assert_problem(redis_client.put(url("big"), json={"value": "x" * 65537}), 413)
    assert "65536" in body["detail"]
    assert len(redis_client.get(url("big")).get_json()["value"]) == 65536


def test_malformed_and_non_json_bodies(redis_client):
    bad = redis_client.put(url("k"), data="{", content_type="application/json")
    assert_problem(bad, 400)
    assert_problem(redis_client.put(url("k"), data="value", content_type="text/plain"), 415)


def test_ping_reports_latency(redis_client):
    response = redis_client.get("/api/v1/redis/ping")
    assert response.status_code == 200
    latency = response.get_json()["latency_ms"]
    assert isinstance(latency, float) and 0 < latency < 1000


def test_get_wdtest_sets_x_cache_miss_then_hit_with_identical_bodies(redis_client):
    created = redis_client.post("/api/v1/wdtests", json={"id": "c", "name": "wade", "age": 20})
    assert created.status_code == 201
    miss = redis_client.get("/api/v1/wdtests/c")
    hit = redis_client.get("/api/v1/wdtests/c")
    assert (miss.status_code, miss.headers["X-Cache"]) == (200, "MISS")
    assert (hit.status_code, hit.headers["X-Cache"]) == (200, "HIT")
    assert hit.mimetype == "application/json"
    assert hit.get_data() == miss.get_data()
    assert hit.get_json() == created.get_json()


def test_write_through_http_is_visible_to_the_next_read(redis_client):
    redis_client.post("/api/v1/wdtests", json={"id": "u", "name": "old"})
    redis_client.get("/api/v1/wdtests/u")
    assert redis_client.get("/api/v1/wdtests/u").headers["X-Cache"] == "HIT"
    assert redis_client.patch("/api/v1/wdtests/u", json={"name": "new"}).status_code == 200
    response = redis_client.get("/api/v1/wdtests/u")
    assert response.headers["X-Cache"] == "MISS" and response.get_json()["name"] == "new"
    assert redis_client.put("/api/v1/wdtests/u", json={"name": "newer"}).status_code == 200
    assert redis_client.get("/api/v1/wdtests/u").get_json()["name"] == "newer"
    assert redis_client.delete("/api/v1/wdtests/u").status_code == 204
    assert_problem(redis_client.get("/api/v1/wdtests/u"), 404)
