"""A production app (APP_ENV=prod, keys set) as it starts with nothing else said: every /api/v1
operation needs a key unless API_READ_AUTH=false opens reads, no demo is mounted or documented;
and one warning when X-Forwarded-For arrives while TRUSTED_PROXIES=0."""

import logging
import re

import pytest

from core.paths import API_PREFIX, OPENAPI_PATH, SWAGGER_PATH
from tests.helpers.problems import assert_problem

KEY = "p" * 24
PROD = {"ENV_NAME": "prod", "SECRET_KEY": "a-real-secret-for-tests", "API_KEYS": KEY}
WRITES = {"post", "put", "patch", "delete"}
DEMO_PREFIXES = ("/demo", "/exceptions")


def documented(client) -> list[tuple[str, str, dict]]:
    """(method, URL with every path parameter filled, operation) of the served OpenAPI document."""
    document = client.get(OPENAPI_PATH).get_json()
    return [
        (method, API_PREFIX + re.sub(r"\{[^}]+\}", "x", path), op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in WRITES | {"get"}
    ]


def test_every_operation_needs_a_key_in_production(make_app):
    client = make_app(**PROD).test_client()
    operations = documented(client)
    assert {method for method, _, _ in operations} == WRITES | {"get"}
    for method, url, op in operations:
        assert op.get("security") == [{"apikey": []}], (method, url)
        assert_problem(client.open(url, method=method.upper()), 401)
        if method == "get":
            assert client.head(url).status_code == 401, url
    assert client.get(f"{API_PREFIX}/wdtests", headers={"X-API-Key": KEY}).status_code == 200
    created = client.post(f"{API_PREFIX}/wdtests", json={"name": "n"}, headers={"X-API-Key": KEY})
    assert created.status_code == 201, created.get_json()


def test_api_read_auth_false_opens_reads_only(make_app):
    client = make_app(**PROD, API_READ_AUTH="false").test_client()
    for method, url, op in documented(client):
        if method == "get":
            assert op.get("security") == [] and client.get(url).status_code != 401, url  # public
        else:
            assert op.get("security") == [{"apikey": []}], (method, url)
            assert_problem(client.open(url, method=method.upper()), 401)


def demo_operations(document: dict) -> set[str]:
    return {path for path in document["paths"] if path.startswith(DEMO_PREFIXES)}


def test_production_mounts_and_documents_no_demo(make_app):
    shown = make_app(ENV_NAME="test").test_client()  # demos on: what production must not have
    demos = [(m, url) for m, url, _ in documented(shown) if url.startswith(f"{API_PREFIX}/demo")]
    demos += [(m, url) for m, url, _ in documented(shown) if url.startswith(f"{API_PREFIX}/exceptions")]
    assert {url.split("/")[3] for _, url in demos} == {"demo", "exceptions"}

    client = make_app(**PROD).test_client()
    for method, url in demos:
        response = client.open(url, method=method.upper(), headers={"X-API-Key": KEY})
        assert_problem(response, 404)
    for path in (SWAGGER_PATH, OPENAPI_PATH):
        assert demo_operations(shown.get(path).get_json())
        document = client.get(path).get_json()
        assert not demo_operations(document), path
        assert not {tag["name"] for tag in document.get("tags", ())} & {"demo", "exceptions"}, path


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 0}])
def test_forwarded_for_without_trusted_proxies_warns_once(sqlite_app, caplog):
    client = sqlite_app.test_client()
    with caplog.at_level(logging.WARNING, logger="api.pipeline.middleware"):
        client.get("/healthz")
        assert not caplog.records  # no header, no warning
        for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
            client.get("/healthz", headers={"X-Forwarded-For": address})
    warnings = [r for r in caplog.records if r.name == "api.pipeline.middleware"]
    assert len(warnings) == 1
    assert "TRUSTED_PROXIES=0" in warnings[0].getMessage()


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_forwarded_for_behind_trusted_proxies_is_silent(sqlite_app, caplog):
    with caplog.at_level(logging.WARNING, logger="api.pipeline.middleware"):
        sqlite_app.test_client().get("/healthz", headers={"X-Forwarded-For": "192.0.2.1"})
    assert not [r for r in caplog.records if r.name == "api.pipeline.middleware"]
