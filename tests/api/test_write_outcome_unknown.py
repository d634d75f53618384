"""Writes whose COMMIT took effect but whose answer was lost (the connection died around
the commit): the client gets a 503; nothing stale stays in the cache; its Idempotency-Key
retry answers what the first attempt would have, without writing again.

The fault is ``tests.helpers.dbapi_faults.commit_answer_lost`` (a DBAPI-level hook: the
TCP fault proxy cannot cut between a COMMIT and its OK)."""

from __future__ import annotations

import pytest

from extensions import db
from services import outbox
from tests.helpers.dbapi_faults import commit_answer_lost
from tests.helpers.problems import assert_problem
from tests.helpers.redis_support import require_test_redis

URL = "/api/v1/wdtests"


@pytest.fixture
def client(app):
    require_test_redis()
    return app.test_client()


def lost_commit(app):
    with app.app_context():
        return commit_answer_lost(db.engine)


def pending(app) -> int:
    with app.app_context():
        count = outbox.get_pending_count()
        db.session.remove()
        return count


def test_patch_committed_but_answered_503_leaves_no_stale_cache_and_its_retry_replays(app, client):
    created = client.post(URL, json={"id": "p", "name": "old"})
    assert client.get(f"{URL}/p").headers["X-Cache"] == "MISS"
    assert client.get(f"{URL}/p").headers["X-Cache"] == "HIT"  # the old version is cached
    headers = {"Idempotency-Key": "patch-1", "If-Match": created.headers["ETag"]}
    with lost_commit(app) as lost:
        first = client.patch(f"{URL}/p", json={"name": "new"}, headers=headers)
    assert lost == [1]
    assert_problem(first, 503)
    # Committed: every read sees it at once, never the cached old version.
    read = client.get(f"{URL}/p")
    assert (read.get_json()["name"], read.get_json()["version"]) == ("new", 2)
    retry = client.patch(f"{URL}/p", json={"name": "new"}, headers=headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == read.get_json() and retry.headers["ETag"] == read.headers["ETag"]
    assert pending(app) == 2  # created, updated: the retry wrote nothing
    again = client.patch(f"{URL}/p", json={"name": "new"}, headers=headers)  # now from Redis
    assert again.data == retry.data and again.headers["ETag"] == retry.headers["ETag"]


def test_post_committed_but_answered_503_is_created_once_and_its_retry_gets_the_record(app, client):
    client.get(URL)  # a cached list page
    headers = {"Idempotency-Key": "post-1"}
    with lost_commit(app):
        assert_problem(client.post(URL, json={"id": "c", "name": "new"}, headers=headers), 503)
    retry = client.post(URL, json={"id": "c", "name": "new"}, headers=headers)
    assert retry.status_code == 201, retry.get_json()  # not 409 "already exists"
    assert retry.headers["Idempotent-Replayed"] == "true"
    read = client.get(f"{URL}/c")
    assert retry.get_json() == read.get_json() and retry.headers["ETag"] == read.headers["ETag"]
    assert retry.headers["Location"].endswith(f"{URL}/c")
    assert [r["id"] for r in client.get(URL).get_json()["items"]] == ["c"]
    assert pending(app) == 1


def test_post_with_a_generated_id_committed_but_answered_503_is_not_created_twice(app, client):
    headers = {"Idempotency-Key": "post-2"}
    with lost_commit(app):
        assert_problem(client.post(URL, json={"name": "gen"}, headers=headers), 503)
    retry = client.post(URL, json={"name": "gen"}, headers=headers)
    assert retry.status_code == 201
    assert [r["id"] for r in client.get(URL).get_json()["items"]] == [retry.get_json()["id"]]


def test_delete_committed_but_answered_503_retries_to_204_once(app, client):
    client.post(URL, json={"id": "d", "name": "x"})
    client.get(f"{URL}/d")
    headers = {"Idempotency-Key": "delete-1"}
    with lost_commit(app):
        assert_problem(client.delete(f"{URL}/d", headers=headers), 503)
    assert_problem(client.get(f"{URL}/d"), 404)  # not the cached record
    retry = client.delete(f"{URL}/d", headers=headers)
    assert retry.status_code == 204 and retry.headers["Idempotent-Replayed"] == "true"
    assert_problem(client.delete(f"{URL}/d"), 404)  # a new request: it is gone
    assert pending(app) == 2


def test_without_a_key_a_retried_patch_answers_the_committed_record(app, client):
    client.post(URL, json={"id": "n", "name": "old"})
    client.get(f"{URL}/n")
    with lost_commit(app):
        assert_problem(client.patch(f"{URL}/n", json={"name": "new"}), 503)
    retry = client.patch(f"{URL}/n", json={"name": "new"})
    assert retry.status_code == 200 and retry.get_json()["version"] == 2
    assert retry.headers["ETag"] == client.get(f"{URL}/n").headers["ETag"]


def test_a_key_used_for_another_request_is_refused_after_a_lost_answer(app, client):
    with lost_commit(app):
        client.post(URL, json={"id": "k", "name": "a"}, headers={"Idempotency-Key": "k"})
    other = client.post(URL, json={"id": "k2", "name": "b"}, headers={"Idempotency-Key": "k"})
    assert_problem(other, 422)
