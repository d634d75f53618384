"""The spec: valid Swagger 2.0, complete, derived from the schemas, and exported identically."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from api.schemas.wdtests import WdtestQuery
from swagger_export import build_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spec(sqlite_app):
    response = sqlite_app.test_client().get("/api/v1/swagger.json")
    assert response.status_code == 200
    return response.get_json()


def test_served_spec_is_valid_swagger_2(spec):
    assert spec["swagger"] == "2.0"
    assert spec["basePath"] == "/api/v1"
    validate(spec)


def test_exported_spec_matches_the_served_one_and_validates(spec, tmp_path):
    out = tmp_path / "swagger.json"
    subprocess.run(
        [sys.executable, "-m", "swagger_export", "-o", str(out)], cwd=ROOT, check=True, timeout=120
    )
    exported = json.loads(out.read_text())
    validate(exported)
    assert exported == spec


def test_build_spec_equals_served(sqlite_app, spec):
    assert build_spec(sqlite_app) == spec


def test_every_operation_is_documented(spec):
    paths = spec["paths"]
    assert set(paths["/wdtests"]) >= {"get", "post"}
    assert set(paths["/wdtests/{wdtest_id}"]) >= {"get", "put", "patch", "delete"}
    expected = {
        ("/wdtests", "get"): {"200", "400"},
        ("/wdtests", "post"): {"201", "400", "409", "413", "415"},
        ("/wdtests/{wdtest_id}", "get"): {"200", "404"},
        ("/wdtests/{wdtest_id}", "put"): {"200", "400", "404", "413", "415"},
        ("/wdtests/{wdtest_id}", "patch"): {"200", "400", "404", "413", "415"},
        ("/wdtests/{wdtest_id}", "delete"): {"204", "404"},
    }
    for (path, method), codes in expected.items():
        responses = paths[path][method]["responses"]
        assert codes <= set(responses), (path, method)
        for code in codes - {"200", "201", "204"}:
            assert responses[code]["schema"] == {"$ref": "#/definitions/Problem"}


def test_every_filter_and_sort_is_a_documented_parameter(spec):
    everything = spec["paths"]["/wdtests"]["get"]["parameters"]
    params = {p["name"]: p for p in everything if p["in"] == "query"}
    assert set(params) == set(WdtestQuery().fields)
    assert {p["name"] for p in everything if p["in"] == "header"} == {"If-None-Match"}
    assert params["sort"]["type"] == "array" and params["sort"]["collectionFormat"] == "csv"
    assert params["per_page"]["maximum"] == 100
    assert all(p["in"] == "query" for p in params.values())


def test_conditional_and_idempotent_requests_are_documented(spec):
    def headers(op):
        return {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}

    item, collection = spec["paths"]["/wdtests/{wdtest_id}"], spec["paths"]["/wdtests"]
    for method in ("put", "patch", "delete"):
        assert headers(item[method]) == {"If-Match", "Idempotency-Key"}
        assert {"409", "412", "422", "428"} <= set(item[method]["responses"])
    assert headers(collection["post"]) == {"Idempotency-Key"}
    assert {"409", "422"} <= set(collection["post"]["responses"])
    for op in (item["get"], collection["get"]):
        assert headers(op) == {"If-None-Match"} and "304" in op["responses"]
        assert "ETag" in op["responses"]["200"]["headers"]
    assert "ETag" in collection["post"]["responses"]["201"]["headers"]
    assert "version" in spec["definitions"]["WdtestOut"]["required"]


def test_models_come_from_the_schemas(spec):
    definitions = spec["definitions"]
    create = definitions["WdtestCreate"]
    assert create["required"] == ["name"]
    assert create["properties"]["name"]["maxLength"] == 20
    assert create["properties"]["age"]["x-nullable"] is True
    assert create["properties"]["age"]["maximum"] == 150
    assert "required" not in definitions["WdtestUpdate"]
    assert definitions["WdtestOut"]["properties"]["age"]["x-nullable"] is True
    page_items = definitions["WdtestPage"]["properties"]["items"]
    assert page_items["items"] == {"$ref": "#/definitions/WdtestOut"}
    assert set(definitions["Problem"]["required"]) == {"type", "title", "status", "detail", "instance"}


def test_docs_ui_is_served_with_local_assets(sqlite_app):
    client = sqlite_app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "https://" not in html
    asset = client.get("/swaggerui/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    asset.close()
