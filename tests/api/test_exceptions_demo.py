"""The ``exceptions`` namespace: every error travels as problem+json."""

import logging

import pytest
from werkzeug.exceptions import default_exceptions

from tests.helpers.problems import assert_problem


def test_divide(http):
    response = http.get("/api/v1/exceptions/divide?a=7&b=2")
    assert response.status_code == 200
    assert response.get_json() == {"result": 3.5}


def test_divide_by_zero_is_a_clear_400(http):
    body = assert_problem(http.get("/api/v1/exceptions/divide?a=3&b=0"), 400)
    assert "zero" in body["detail"] and body["errors"] == {"b": ["Must not be 0."]}


@pytest.mark.parametrize(
    "query", ["a=1", "a=x&b=1", "a=1&b=nan", "a=1&b=inf", "a=1&b=2&c=3", "a=1&a=2&b=1", "a=1e308&b=1e-10"]
)
def test_divide_bad_input_is_400(http, query):
    assert_problem(http.get(f"/api/v1/exceptions/divide?{query}"), 400)


@pytest.mark.parametrize("code", sorted(c for c in default_exceptions if c >= 400))
def test_abort_known_codes(http, code):
    body = assert_problem(http.get(f"/api/v1/exceptions/abort/{code}"), code)
    assert body["title"] == default_exceptions[code]().name


@pytest.mark.parametrize("code", [200, 302, 399, 419, 600, 99999, -1, -404])
def test_abort_unknown_codes_are_400(http, code):
    assert_problem(http.get(f"/api/v1/exceptions/abort/{code}"), 400, "code")


def test_abort_non_integer_is_404(http):
    assert_problem(http.get("/api/v1/exceptions/abort/teapot"), 404)


def test_crash_is_500_with_traceback_only_in_log(http, caplog):
    with caplog.at_level(logging.ERROR):
        response = http.get("/api/v1/exceptions/crash", headers={"X-Request-ID": "crash-1"})
    body = assert_problem(response, 500)
    assert "demo crash" not in response.get_data(as_text=True) and "Traceback" not in body["detail"]
    record = next(r for r in caplog.records if r.exc_info)
    assert "demo crash" in str(record.exc_info[1])
    assert record.request_id == "crash-1"


def test_custom_domain_error(http):
    body = assert_problem(http.get("/api/v1/exceptions/custom"), 429)
    assert body["title"] == "Quota Exceeded"
    assert (body["limit"], body["used"]) == (100, 100)


def test_wrong_method_is_405_problem(http):
    response = http.post("/api/v1/exceptions/divide")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 100}])
def test_too_large_body_is_413_problem(http):
    assert_problem(http.post("/api/v1/demo/echo", data={"f": "x" * 500}), 413)


def test_swagger_documents_the_error_responses(http):
    paths = http.get("/api/v1/swagger.json").get_json()["paths"]
    assert paths["/exceptions/divide"]["get"]["responses"]["400"]["schema"]["$ref"] == "#/definitions/Problem"
    assert "500" in paths["/exceptions/crash"]["get"]["responses"]
    assert "429" in paths["/exceptions/custom"]["get"]["responses"]


def test_abort_405_and_401_carry_their_required_headers(sqlite_app):
    client = sqlite_app.test_client()
    assert client.get("/api/v1/exceptions/abort/405").headers["Allow"] == "GET"
    challenge = client.get("/api/v1/exceptions/abort/401").headers["WWW-Authenticate"]
    assert challenge.lower().startswith("apikey")  # auth schemes are case-insensitive
