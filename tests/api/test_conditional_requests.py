"""ETag, If-None-Match, If-Match, REQUIRE_IF_MATCH and Idempotency-Key through the HTTP API."""

import threading

import pytest

from extensions import db
from factory import create_app
from services import outbox
from tests.helpers.apps import config_for
from tests.helpers.ports import dead_port
from tests.helpers.problems import assert_problem
from tests.helpers.redis_support import redis_test_prefix
from tests.helpers.threads import together

URL = "/api/v1/wdtests"


@pytest.fixture
def app_config(request):
    return getattr(request, "param", {})


@pytest.fixture
def created(client):
    response = client.post(URL, json={"id": "e", "name": "a"})
    assert response.status_code == 201
    return response


def pending(app) -> int:
    with app.app_context():
        count = outbox.get_pending_count()
        db.session.remove()
        return count


def test_record_etag_is_strong_and_the_same_on_miss_hit_and_write(client, created):
    etag = created.headers["ETag"]
    assert etag.startswith('"1-') and not etag.startswith("W/")
    miss, hit = client.get(f"{URL}/e"), client.get(f"{URL}/e")
    assert (miss.headers["X-Cache"], hit.headers["X-Cache"]) == ("MISS", "HIT")
    assert miss.headers["ETag"] == hit.headers["ETag"] == etag
    assert miss.get_json()["version"] == 1


@pytest.mark.parametrize("warm", [False, True], ids=["miss", "hit"])
def test_if_none_match_gives_304_without_a_body(client, created, warm):
    if warm:
        client.get(f"{URL}/e")
    response = client.get(f"{URL}/e", headers={"If-None-Match": created.headers["ETag"]})
    assert response.status_code == 304 and response.data == b""
    assert response.headers["ETag"] == created.headers["ETag"]
    assert client.get(f"{URL}/e", headers={"If-None-Match": '"other"'}).status_code == 200
    # The server (gunicorn) sends the one Date header: the app adds none, conditional or not.
    assert "Date" not in response.headers and "Date" not in client.get(f"{URL}/e").headers


def test_if_match_guards_put_patch_delete(client, created):
    first = created.headers["ETag"]
    patched = client.patch(f"{URL}/e", json={"age": 2}, headers={"If-Match": first})
    assert patched.status_code == 200 and patched.get_json()["version"] == 2
    second = patched.headers["ETag"]
    assert second != first and client.get(f"{URL}/e").headers["ETag"] == second
    for method, kwargs in [("PATCH", {"json": {"age": 3}}), ("PUT", {"json": {"name": "z"}}), ("DELETE", {})]:
        stale = client.open(f"{URL}/e", method=method, headers={"If-Match": first}, **kwargs)
        assert assert_problem(stale, 412)["version"] == 2
    assert client.get(f"{URL}/e").get_json()["age"] == 2  # nothing changed
    weak = client.patch(f"{URL}/e", json={"age": 3}, headers={"If-Match": f"W/{second}"})
    assert_problem(weak, 412)  # If-Match compares strongly
    put = client.put(f"{URL}/e", json={"name": "b"}, headers={"If-Match": f'"junk", {second}'})
    assert put.status_code == 200 and put.get_json()["version"] == 3
    assert client.patch(f"{URL}/e", json={"age": 4}, headers={"If-Match": "*"}).status_code == 200
    assert client.delete(f"{URL}/e", headers={"If-Match": put.headers["ETag"]}).status_code == 412
    assert client.delete(f"{URL}/e", headers={"If-Match": "*"}).status_code == 204
    assert_problem(client.patch(f"{URL}/e", json={"age": 1}, headers={"If-Match": second}), 412)
    assert_problem(client.patch(f"{URL}/e", json={"age": 1}, headers={"If-Match": "*"}), 412)  # none exists


@pytest.mark.parametrize("value", ["", '"a', '"a",', '"x y"', '"a" "b"', '"a"b', "\u00e9"])
def test_if_match_that_is_no_entity_tag_list_is_400(client, created, value):
    response = client.delete(f"{URL}/e", headers={"If-Match": value})
    assert_problem(response, 400, "If-Match")
    assert client.get(f"{URL}/e").status_code == 200


def test_if_match_pattern_rejects_a_long_ambiguous_list_at_once(client, created):
    # "W/x" once parsed two ways (a weak tag, or a bare tag "W/x"): 40 of them before a bad
    # end meant 2**40 tries. The check runs on a thread so a regression fails, not hangs.
    answer = []
    worker = threading.Thread(
        target=lambda: answer.append(client.delete(f"{URL}/e", headers={"If-Match": "W/a," * 40 + '"'})),
        daemon=True,
    )
    worker.start()
    worker.join(10)
    assert answer, "the If-Match pattern backtracks without end"
    assert_problem(answer[0], 400, "If-Match")


def test_if_match_bare_tag_is_taken_and_matches_nothing(client, created):
    # werkzeug reads a tag without quotes; the documented pattern allows it (412, never a match).
    assert_problem(client.delete(f"{URL}/e", headers={"If-Match": "0"}), 412)


@pytest.mark.parametrize("app_config", [{"REQUIRE_IF_MATCH": True}], indirect=True)
def test_require_if_match_makes_it_mandatory(client, created):
    for method in ("PATCH", "PUT", "DELETE"):
        assert_problem(client.open(f"{URL}/e", method=method, json={"name": "x"}), 428)
    ok = client.patch(f"{URL}/e", json={"age": 1}, headers={"If-Match": created.headers["ETag"]})
    assert ok.status_code == 200
    assert client.post(URL, json={"name": "new"}).status_code == 201  # creation needs no tag


def test_list_pages_carry_a_weak_etag_and_honour_if_none_match(client, created):
    first = client.get(URL)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = client.get(URL, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["X-Cache"] == "HIT"
    client.patch(f"{URL}/e", json={"age": 9})
    changed = client.get(URL, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["items"][0]["age"] == 9


def test_idempotency_key_replays_the_first_response_without_a_second_write(app, client):
    headers = {"Idempotency-Key": "order-1"}
    first = client.post(URL, json={"name": "once"}, headers=headers)
    retry = client.post(URL, json={"name": "once"}, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert retry.data == first.data
    assert (retry.headers["Location"], retry.headers["ETag"]) == (
        first.headers["Location"],
        first.headers["ETag"],
    )
    assert retry.mimetype == "application/json"
    assert client.get(URL).get_json()["total"] == 1 and pending(app) == 1
    assert_problem(client.post(URL, json={"name": "twice"}, headers=headers), 422)
    assert_problem(client.patch(first.headers["Location"], json={"name": "once"}, headers=headers), 422)
    rid = first.get_json()["id"]
    deleted = [client.delete(f"{URL}/{rid}", headers={"Idempotency-Key": "del-1"}) for _ in range(2)]
    assert [r.status_code for r in deleted] == [204, 204] and pending(app) == 2
    assert deleted[1].headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "caf\u00e9"])
def test_bad_idempotency_keys_are_400(client, key):
    response = client.post(URL, json={"name": "x"}, headers={"Idempotency-Key": key})
    assert_problem(response, 400)
    assert client.get(URL).get_json()["total"] == 0


def test_a_4xx_outcome_is_replayed_too(client):
    headers = {"Idempotency-Key": "retry-me"}
    assert_problem(client.patch(f"{URL}/missing", json={"age": 1}, headers=headers), 404)
    client.post(URL, json={"id": "missing", "name": "now"})
    retry = client.patch(f"{URL}/missing", json={"age": 1}, headers=headers)
    assert_problem(retry, 404)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert client.get(f"{URL}/missing").get_json()["age"] is None  # the retry wrote nothing
    fresh = client.patch(f"{URL}/missing", json={"age": 1}, headers={"Idempotency-Key": "new"})
    assert fresh.status_code == 200


def test_a_5xx_outcome_frees_the_key(make_app):
    prefix = redis_test_prefix()  # one idempotency store for both apps
    dead_database = config_for("sqlite:////nonexistent-dir/wdapi.sqlite3", REDIS_KEY_PREFIX=prefix)
    down = create_app(dead_database).test_client()  # nothing to clean up: it can store nothing
    up = make_app(REDIS_KEY_PREFIX=prefix).test_client()
    headers = {"Idempotency-Key": "outage"}
    assert_problem(down.post(URL, json={"id": "o", "name": "x"}, headers=headers), 503)
    retry = up.post(URL, json={"id": "o", "name": "x"}, headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_concurrent_retries_write_once(app, client):
    def post():
        response = app.test_client().post(URL, json={"name": "race"}, headers={"Idempotency-Key": "same"})
        return response.status_code, response.headers.get("Idempotent-Replayed")

    statuses = together(*[post] * 6)
    assert statuses.count((201, None)) == 1  # the one that ran
    assert all(s in ((201, None), (201, "true"), (409, None)) for s in statuses), statuses
    assert client.get(URL).get_json()["total"] == 1 and pending(app) == 1


@pytest.mark.parametrize("app_config", [{"REDIS_URL": f"redis://127.0.0.1:{dead_port()}/0"}], indirect=True)
def test_redis_down_refuses_keyed_writes_only(app, client):
    assert_problem(client.post(URL, json={"name": "x"}, headers={"Idempotency-Key": "k"}), 503)
    assert pending(app) == 0
    assert client.post(URL, json={"name": "x"}).status_code == 201


@pytest.mark.parametrize("app_config", [{"API_KEYS": "alice-key-0123456,bob-key-01234567"}], indirect=True)
def test_idempotency_keys_are_per_api_key(client):
    def post(api_key, name):
        headers = {"Idempotency-Key": "shared", "X-API-Key": api_key}
        return client.post(URL, json={"name": name}, headers=headers)

    assert post("alice-key-0123456", "a").status_code == 201
    assert post("bob-key-01234567", "b").status_code == 201  # not a replay of alice's, nor 422
    assert post("alice-key-0123456", "a").headers["Idempotent-Replayed"] == "true"
