"""CORS for browser front ends: off by default, preflight handled when configured."""

import pytest

ORIGIN = "http://front.example"


def preflight(http, origin=ORIGIN):
    return http.options(
        "/api/v1/wdtests",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, X-API-Key",
        },
    )


def test_no_cors_headers_by_default(http):
    response = http.get("/api/v1/wdtests", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Origin" not in preflight(http).headers


@pytest.mark.parametrize(
    "app_config", [{"CORS_ORIGINS": f"{ORIGIN},http://other.example", "API_KEYS": "k" * 16}]
)
def test_preflight_allowed_origin(http):
    response = preflight(http)
    assert response.status_code == 204  # preflights carry no key, so auth lets them through
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "x-api-key"} <= allowed


@pytest.mark.parametrize("app_config", [{"CORS_ORIGINS": ORIGIN}])
def test_actual_request_exposes_headers(http):
    response = http.get("/api/v1/wdtests", headers={"Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"x-total-count", "link", "x-request-id", "location", "etag", "idempotent-replayed"} <= exposed


@pytest.mark.parametrize("app_config", [{"CORS_ORIGINS": ORIGIN}])
def test_error_responses_are_readable_cross_origin(http):
    response = http.get("/api/v1/exceptions/custom", headers={"Origin": ORIGIN})
    assert response.status_code == 429 and response.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize("app_config", [{"CORS_ORIGINS": ORIGIN}])
def test_other_origins_get_no_grant(http):
    assert "Access-Control-Allow-Origin" not in preflight(http, "http://evil.example").headers
    response = http.get("/api/v1/wdtests", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
