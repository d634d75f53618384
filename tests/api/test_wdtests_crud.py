"""HTTP behaviour of /api/v1/wdtests: status codes, headers, bodies, errors."""

import io

import pytest

from tests.helpers.builders import WDTESTS_URL as URL
from tests.helpers.builders import post_wdtest as create
from tests.helpers.problems import assert_problem


def test_create_returns_201_record_and_location(client):
    response = client.post(URL, json={"id": "3", "name": "wade", "age": 20})
    assert response.status_code == 201
    assert response.headers["Location"] == f"http://localhost{URL}/3"
    body = response.get_json()
    assert body["id"] == "3" and body["name"] == "wade" and body["age"] == 20
    assert body["created_at"].endswith("+00:00") and body["updated_at"].endswith("+00:00")
    assert client.get(response.headers["Location"]).get_json() == body


def test_create_generates_uuid_id_when_absent(client):
    import uuid

    body = create(client, name="wade")
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert body["age"] is None


def test_duplicate_id_is_409_and_keeps_the_original(client):
    create(client, id="dup", name="first", age=1)
    body = assert_problem(client.post(URL, json={"id": "dup", "name": "second"}), 409)
    assert "dup" in body["detail"]
    assert client.get(f"{URL}/dup").get_json()["name"] == "first"


def test_get_missing_is_404_problem(client):
    body = assert_problem(client.get(f"{URL}/nope"), 404)
    assert body["instance"] == f"{URL}/nope"


def test_put_replaces_name_and_age(client):
    create(client, id="p", name="old", age=30)
    response = client.put(f"{URL}/p", json={"name": "new"})
    assert response.status_code == 200
    assert response.get_json()["name"] == "new"
    assert response.get_json()["age"] is None  # absent in a full replace -> null
    assert client.get(f"{URL}/p").get_json()["name"] == "new"


def test_put_requires_name(client):
    create(client, id="p", name="old", age=30)
    assert_problem(client.put(f"{URL}/p", json={"age": 3}), 400, "name")
    assert client.get(f"{URL}/p").get_json()["name"] == "old"


def test_patch_changes_only_given_fields(client):
    created = create(client, id="q", name="keep", age=30)
    response = client.patch(f"{URL}/q", json={"age": 31})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["age"]) == ("keep", 31)
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]


def test_patch_age_to_null(client):
    create(client, id="q", name="keep", age=30)
    assert client.patch(f"{URL}/q", json={"age": None}).get_json()["age"] is None


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_missing_is_404(client, method):
    assert_problem(getattr(client, method)(f"{URL}/none", json={"name": "x"}), 404)


@pytest.mark.parametrize("method", ["put", "patch"])
def test_id_cannot_be_changed(client, method):
    create(client, id="fixed", name="a")
    assert_problem(getattr(client, method)(f"{URL}/fixed", json={"id": "other", "name": "b"}), 400, "id")
    assert client.get(f"{URL}/fixed").get_json()["name"] == "a"
    assert client.get(f"{URL}/other").status_code == 404
    # Repeating the same id is allowed.
    assert getattr(client, method)(f"{URL}/fixed", json={"id": "fixed", "name": "b"}).status_code == 200


def test_delete_then_404(client):
    create(client, id="d", name="gone")
    response = client.delete(f"{URL}/d")
    assert response.status_code == 204
    assert response.data == b"" and "Content-Type" not in response.headers
    assert_problem(client.get(f"{URL}/d"), 404)
    assert_problem(client.delete(f"{URL}/d"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x" * 21}, "name"),
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": None}, "name"),
        ({"name": 5}, "name"),
        ({"name": "ok", "age": -1}, "age"),
        ({"name": "ok", "age": 151}, "age"),
        ({"name": "ok", "age": "20"}, "age"),
        ({"name": "ok", "age": 20.5}, "age"),
        ({"name": "ok", "age": True}, "age"),
        ({"name": "ok", "extra": 1}, "extra"),
        ({"id": "has space", "name": "ok"}, "id"),
        ({"id": "x" * 101, "name": "ok"}, "id"),
        ({"id": "", "name": "ok"}, "id"),
        ({"id": "abc\n", "name": "ok"}, "id"),
    ],
)
def test_invalid_body_is_400_naming_the_field(client, body, field):
    body = assert_problem(client.post(URL, json=body), 400, field)
    assert client.get(URL).get_json()["total"] == 0


def test_lone_surrogate_is_400_not_a_database_error(client):
    # Valid JSON, but not encodable as UTF-8: it must never reach the database.
    response = client.post(URL, data='{"name": "a\\ud800"}', content_type="application/json")
    assert_problem(response, 400, "name")


def test_boundary_values_are_accepted(client):
    body = create(client, id="a" * 100, name="n" * 20, age=150)
    assert body["id"] == "a" * 100 and body["age"] == 150
    assert create(client, id="A.b_c~d-9", name="z", age=0)["age"] == 0


@pytest.mark.parametrize(
    "name",
    ["王小明", "東京都千代田区千代田一丁目一番地一号", "😀" * 20, "👩‍👩‍👧‍👦", "Ωmega ñandú", "a\\b%c_d'e\"f"],
)
def test_unicode_names_round_trip_exactly(client, name):
    assert len(name) <= 20
    created = create(client, name=name)
    assert created["name"] == name
    assert client.get(f"{URL}/{created['id']}").get_json()["name"] == name


def test_21_emoji_is_too_long(client):
    assert_problem(client.post(URL, json={"name": "😀" * 21}), 400, "name")


def test_body_must_be_a_json_object(client):
    assert_problem(client.post(URL, json=[{"name": "x"}]), 400)
    assert_problem(client.post(URL, json="x"), 400)


def test_malformed_json_is_400(client):
    body = assert_problem(client.post(URL, data="{bad", content_type="application/json"), 400)
    assert "not valid JSON" in body["detail"]


def test_non_json_content_type_is_415(client):
    assert_problem(client.post(URL, data="name=x", content_type="application/x-www-form-urlencoded"), 415)
    assert_problem(client.post(URL, data='{"name": "x"}', content_type="text/plain"), 415)


def test_body_over_max_content_length_is_413(client):
    response = client.post(
        URL, data='{"name": "' + "x" * (1024 * 1024) + '"}', content_type="application/json"
    )
    assert_problem(response, 413)
    assert client.get(URL).get_json()["total"] == 0


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 2 * 1024 * 1024])
def test_chunked_body_over_max_content_length_is_413_not_truncated(client, size):
    # No Content-Length (chunked): werkzeug stops reading at the limit; the rest must not
    # be dropped silently and the truncated JSON reported as malformed (400).
    body = ('{"name": "' + "x" * size + '"}').encode()
    response = client.post(
        URL,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_problem(response, 413)


def test_chunked_body_within_max_content_length_is_read(client):
    response = client.post(
        URL,
        input_stream=io.BytesIO(b'{"id": "chunked", "name": "x"}'),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201, response.get_json()


def test_deeply_nested_json_is_400_not_500(client):
    body = assert_problem(
        client.post(URL, data="[" * 100_000 + "]" * 100_000, content_type="application/json"), 400
    )
    assert "nested" in body["detail"]


@pytest.mark.parametrize("record_id", [".", ".."])
def test_dot_segment_ids_are_refused(client, record_id):
    # A client would collapse /wdtests/.. into /wdtests: such a record could never be read.
    assert_problem(client.post(URL, json={"id": record_id, "name": "x"}), 400, "id")
    assert create(client, id="...", name="x")["id"] == "..."


def test_duplicate_keys_in_a_body_are_400(client):
    response = client.post(URL, data='{"name": "x", "name": "y"}', content_type="application/json")
    body = assert_problem(response, 400)
    assert "duplicate key 'name'" in body["detail"]
    assert client.get(URL).get_json()["total"] == 0


def test_json_is_compact_in_development_too(make_app):
    client = make_app(DEBUG=True).test_client()
    assert client.post(URL, json={"id": "c", "name": "x"}).data.startswith(b'{"id":"c","name":"x"')
    assert client.get(f"{URL}/nope").data.startswith(b'{"type":"about:blank","title":"Not Found"')
