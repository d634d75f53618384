"""What only a real server shows: gunicorn's own rejections are problem+json too, and raw
bytes in the URL reach the app's UTF-8 check rather than werkzeug's replacement character."""

import json

import pytest

from tests.helpers.live import request
from tests.helpers.live_server import raw_request


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad\x01Name: 1\r\n\r\n", 400),
    ],
    ids=["request-line", "header-size", "header-count", "header-bytes"],
)
def test_gunicorn_rejections_are_problem_json(open_server, data, status):
    got, headers, body = parse(raw_request(open_server.port, data))
    assert got == status
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"] == "about:blank"
    assert problem["title"] and problem["detail"]
    assert int(headers["content-length"]) == len(body)


@pytest.mark.parametrize("path", ["/api/v1/redis/keys/alias%FF", "/api/v1/redis/keys/alias%FE"])
def test_invalid_utf8_in_the_path_is_400_through_gunicorn(open_server, path):
    response = request(open_server.port, "GET", path)
    assert response.status == 400 and response.header("Content-Type") == "application/problem+json"
    assert "UTF-8" in response.json()["detail"]


def test_invalid_utf8_in_the_query_is_400_through_gunicorn(open_server):
    response = request(open_server.port, "GET", "/api/v1/wdtests?name=%FF")
    assert response.status == 400 and "UTF-8" in response.json()["detail"]


def test_a_newline_key_is_400_through_gunicorn(open_server):
    response = request(open_server.port, "GET", "/api/v1/redis/keys/a%0Ab")
    assert response.status == 400 and response.json()["errors"]["key"]


def test_options_is_204_with_allow_through_gunicorn(open_server):
    response = request(open_server.port, "OPTIONS", "/api/v1/wdtests/abc")
    assert response.status == 204 and response.body == b"" and response.header("Content-Type") is None
    assert set(response.header("Allow").split(", ")) == {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}
