"""Rate limits: one budget per API key, else per address, on the shared Redis; 429 problem+json
with Retry-After and RateLimit-* headers; health, docs and documents exempt; open when Redis fails.
Several instances sharing a budget: test_rate_limit_sync.py."""

from __future__ import annotations

import logging
import time

import pytest

from tests.helpers.ports import dead_port
from tests.helpers.problems import assert_problem
from tests.helpers.ratelimits import storage_of, wait_until
from tests.helpers.redis_support import require_test_redis

LIMIT = 3
OPERATION = "/api/v1/exceptions/divide?a=6&b=3"  # needs no dependency
KEY_A, KEY_B = "a" * 16, "b" * 16
STORAGE_LOGGER = "extensions.ratelimit_storage"
EXEMPT = ("/healthz", "/readyz", "/docs", "/api/v1/swagger.json", "/api/v1/openapi.json")


@pytest.fixture
def limited(make_app):
    """An app with a budget of LIMIT requests a minute per caller, behind one trusted proxy."""
    require_test_redis()

    def make(**config):
        settings = {
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_APPLICATION": f"{LIMIT} per minute",
            "API_KEYS": f"{KEY_A},{KEY_B}",
            "TRUSTED_PROXIES": 1,
            **config,
        }
        return make_app(**settings).test_client()

    return make


def spend(http, headers=None) -> list[int]:
    return [http.get(OPERATION, headers=headers).status_code for _ in range(LIMIT)]


def test_the_budget_spent_answers_429_problem_with_headers(limited):
    http = limited()
    first = http.get(OPERATION)
    assert first.status_code == 200
    assert "RateLimit-Limit" not in first.headers and "Retry-After" not in first.headers
    assert spend(http)[:-1] == [200] * (LIMIT - 1)
    response = http.get(OPERATION)
    body = assert_problem(response, 429)
    assert body["detail"] == f"{LIMIT} per 1 minute"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Limit"] == str(LIMIT)
    assert 0 < int(response.headers["RateLimit-Reset"]) <= 60


def test_each_api_key_and_each_address_has_its_own_budget(limited):
    http = limited()
    assert spend(http, {"X-API-Key": KEY_A}) == [200] * LIMIT
    assert http.get(OPERATION, headers={"X-API-Key": KEY_A}).status_code == 429
    # Another key, and the address without a key, still have their budgets.
    assert http.get(OPERATION, headers={"X-API-Key": KEY_B}).status_code == 200
    assert http.get(OPERATION).status_code == 200
    # An invalid key counts against the address, which spends it.
    assert spend(http, {"X-API-Key": "not-a-key"})[-1] == 429
    assert http.get(OPERATION, headers={"X-API-Key": KEY_B}).status_code == 200
    # Behind the trusted proxy, the forwarded address is the caller.
    assert http.get(OPERATION, headers={"X-Forwarded-For": "192.0.2.7"}).status_code == 200


def test_health_docs_and_documents_are_not_limited(limited):
    http = limited()
    spend(http)
    assert http.get(OPERATION).status_code == 429
    for path in EXEMPT:
        response = http.get(path)
        assert response.status_code in (200, 503), path  # /readyz may be 503 without its dependencies


def test_off_when_disabled(limited):
    http = limited(RATELIMIT_ENABLED=False)
    assert [http.get(OPERATION).status_code for _ in range(LIMIT + 2)] == [200] * (LIMIT + 2)


def test_requests_pass_promptly_with_one_warning_when_redis_is_down(limited, caplog):
    http = limited(REDIS_URL=f"redis://127.0.0.1:{dead_port()}/0", RATELIMIT_APPLICATION="100 per minute")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=STORAGE_LOGGER):
        statuses = [http.get(OPERATION).status_code for _ in range(20)]
        storage = storage_of(http.application)
        wait_until(lambda: storage.down, what="the sync to fail")  # it runs beside the requests
        statuses += [http.get(OPERATION).status_code for _ in range(20)]
    assert statuses == [200] * 40
    assert time.monotonic() - started < 10  # generous: refused connections fail in milliseconds
    warnings = [r for r in caplog.records if r.name == STORAGE_LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()


def test_a_per_request_storage_that_fails_counts_in_process_with_one_warning(limited, caplog):
    """RATELIMIT_SYNC_INTERVAL=0 asks Redis on every request: refused, each process counts
    its own hits (the budget still holds there) and asks Redis again a second later."""
    http = limited(REDIS_URL=f"redis://127.0.0.1:{dead_port()}/0", RATELIMIT_SYNC_INTERVAL=0)
    with caplog.at_level(logging.WARNING, logger="api.pipeline.ratelimit"):
        statuses = [http.get(OPERATION).status_code for _ in range(LIMIT + 2)]
    assert statuses == [200] * LIMIT + [429, 429]
    assert int(http.get(OPERATION).headers["Retry-After"]) >= 1
    warnings = [r for r in caplog.records if r.name == "api.pipeline.ratelimit"]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
