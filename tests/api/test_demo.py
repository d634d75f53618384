"""The ``demo`` namespace: routing, converters, the request and its contexts."""

import io

import pytest
from flask import url_for

from tests.helpers.problems import assert_problem


@pytest.mark.parametrize("method", ["get", "post"])
def test_user_id_is_a_string(http, method):
    response = getattr(http, method)("/api/v1/demo/users/0042")
    assert response.status_code == 200 and response.get_json() == {"id": "0042"}


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_user_other_methods_are_405(http, method):
    response = getattr(http, method)("/api/v1/demo/users/1")
    assert_problem(response, 405)
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))


def test_regex_converter_gives_an_int(http):
    response = http.get("/api/v1/demo/index/123")
    assert response.get_json() == {"id": 123}


def test_regex_converter_keeps_leading_zeros_in_the_match(http):
    assert http.get("/api/v1/demo/index/007").get_json() == {"id": 7}


@pytest.mark.parametrize("segment", ["1234", "12a", "12", "abc", "-12"])
def test_regex_converter_rejects_other_segments(http, segment):
    assert_problem(http.get(f"/api/v1/demo/index/{segment}"), 404)


def test_regex_converter_builds_urls(sqlite_app):
    with sqlite_app.test_request_context():
        assert url_for("demo_index", index_id=123) == "/api/v1/demo/index/123"
        assert sqlite_app.test_client().get(url_for("demo_index", index_id=123)).status_code == 200
        # A value the route would not match is refused rather than built into a 404 URL.
        with pytest.raises(ValueError):
            url_for("demo_index", index_id=5)


def test_regex_route_is_documented(http):
    spec = http.get("/api/v1/swagger.json").get_json()
    params = spec["paths"]["/demo/index/{index_id}"]["parameters"]
    assert params[0]["pattern"] == "^[0-9]{3}$" and params[0]["in"] == "path"


def test_echo_shows_what_flask_saw_without_secrets(http):
    http.set_cookie("flavour", "oat")
    response = http.post(
        "/api/v1/demo/echo?tag=a&tag=b",
        data={"name": "ada", "upload": (io.BytesIO(b"0123456789"), "notes.txt", "text/plain")},
        headers={"Authorization": "Bearer secret-token", "X-API-Key": "secret-key", "X-Trace": "t1"},
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["method"] == "POST" and body["path"] == "/api/v1/demo/echo"
    assert body["args"] == {"tag": ["a", "b"]} and body["form"] == {"name": ["ada"]}
    assert body["files"] == [
        {"field": "upload", "filename": "notes.txt", "size": 10, "content_type": "text/plain"}
    ]
    assert body["cookies"] == {"flavour": "oat"} and body["json"] is None
    assert body["headers"]["X-Trace"] == "t1"
    text = response.get_data(as_text=True)
    assert "secret-token" not in text and "secret-key" not in text and "0123456789" not in text
    assert not {"Authorization", "X-Api-Key", "X-API-Key", "Cookie"} & set(body["headers"])


def test_echo_json_body(http):
    body = http.post("/api/v1/demo/echo", json={"a": [1, {"b": None}]}).get_json()
    assert body["json"] == {"a": [1, {"b": None}]} and body["form"] == {}


def test_echo_multipart_without_a_readable_part_is_400(http):
    boundary = "b0undary"
    multipart = f"multipart/form-data; boundary={boundary}"
    garbage = f"--{boundary}\r\nno headers here--{boundary}--\r\n"
    assert_problem(http.post("/api/v1/demo/echo", data=garbage, content_type=multipart), 400)
    empty = http.post("/api/v1/demo/echo", data=f"--{boundary}--\r\n", content_type=multipart)
    assert empty.status_code == 200 and empty.get_json()["form"] == {}  # no fields is a form


def test_echo_malformed_json_is_400(http):
    response = http.post("/api/v1/demo/echo", data="{nope", content_type="application/json")
    assert "not valid JSON" in assert_problem(response, 400)["detail"]


def test_echo_ignores_forwarded_for_without_trusted_proxies(http):
    body = http.post("/api/v1/demo/echo", headers={"X-Forwarded-For": "203.0.113.9"}).get_json()
    assert body["remote_addr"] == "127.0.0.1"


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": "1"}])
def test_echo_honours_forwarded_for_with_trusted_proxies(http):
    headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    body = http.post("/api/v1/demo/echo", headers=headers).get_json()
    assert body["remote_addr"] == "203.0.113.9"  # one trusted hop: the last entry


def test_context_shows_app_and_request_contexts(http):
    response = http.get("/api/v1/demo/context", headers={"X-Request-ID": "ctx-1"})
    body = response.get_json()
    assert body["app"] == "wdapi" and body["environment"] == "test"
    assert body["request_id"] == "ctx-1" == response.headers["X-Request-ID"]
    assert body["method"] == "GET" and isinstance(body["pid"], int)
