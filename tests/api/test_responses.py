"""JSON encoding rules and the JSONResponse class, through plain (non-RESTX) Flask views."""

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as WerkzeugResponse

from api.contract.responses import JSONResponse, encode_default
from factory import create_app


@dataclasses.dataclass
class Point:
    x: int
    when: date


@pytest.fixture
def app():
    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})

    @app.get("/api/v1/plain/values")
    def values():
        return {
            "aware": datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8))),
            "naive": datetime(2024, 5, 6, 7, 8, 9),
            "day": date(2024, 5, 6),
            "money": Decimal("10.10"),
            "uuid": UUID("12345678-1234-5678-1234-567812345678"),
            "text": "王小明😀",
        }

    @app.get("/api/v1/plain/returned-error")
    def returned_error():
        return NotFound("no such thing")  # returned, not raised

    @app.get("/api/v1/plain/werkzeug")
    def werkzeug_response():
        return WerkzeugResponse("hi", status=202)

    return app


def test_app_uses_jsonresponse(app):
    assert app.response_class is JSONResponse


def test_encoding_rules_in_a_plain_view(app):
    response = app.test_client().get("/api/v1/plain/values")
    assert response.mimetype == "application/json"
    assert json.loads(response.data) == {
        "aware": "2024-05-06T07:08:09+08:00",
        "naive": "2024-05-06T07:08:09+00:00",
        "day": "2024-05-06",
        "money": "10.10",
        "uuid": "12345678-1234-5678-1234-567812345678",
        "text": "王小明😀",
    }
    assert "王小明😀".encode() in response.data  # UTF-8, not \\u escapes


def test_returned_http_exception_becomes_problem_json(app):
    response = app.test_client().get("/api/v1/plain/returned-error")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["detail"] == "no such thing" and body["instance"] == "/api/v1/plain/returned-error"
    assert b"<html" not in response.data.lower()


def test_foreign_response_is_converted_to_the_app_class(app):
    seen = []
    app.after_request(lambda r: seen.append(type(r)) or r)
    response = app.test_client().get("/api/v1/plain/werkzeug")
    assert (response.status_code, response.data) == (202, b"hi")
    assert seen == [JSONResponse]


def test_force_type_turns_values_into_json(app):
    with app.test_request_context():
        for value, expected in [
            ({"a": 1}, {"a": 1}),
            ([1, 2], [1, 2]),
            (Point(1, date(2020, 1, 2)), {"x": 1, "when": "2020-01-02"}),
        ]:
            response = JSONResponse.force_type(value)
            assert isinstance(response, JSONResponse)
            assert response.mimetype == "application/json"
            assert json.loads(response.data) == expected


def test_api_and_plain_views_encode_datetimes_alike(app):
    moment = datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    with app.app_context():
        assert json.loads(app.json.dumps({"t": moment}))["t"] == encode_default(moment)
    assert encode_default(moment) == "2024-01-02T03:04:05.600000+00:00"


def test_unknown_types_still_fail_loudly():
    with pytest.raises(TypeError):
        encode_default(object())


def test_plain_flask_app_can_use_the_class():
    plain = Flask("plain")
    plain.response_class = JSONResponse
    plain.get("/x")(lambda: WerkzeugResponse("ok"))
    assert plain.test_client().get("/x").data == b"ok"
