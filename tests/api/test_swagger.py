"""The documents: Swagger 2.0 and OpenAPI 3.1 from the same declarations, both valid,
complete, true to the settings, and exported identically."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from api.schemas.wdtests import WdtestQuery
from swagger_export import build_spec

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = {"2.0": "/api/v1/swagger.json", "3.1.0": "/api/v1/openapi.json"}
PROBLEM = "application/problem+json"
KEYS = {"API_KEYS": "k" * 16}


def served(app, version: str) -> dict:
    response = app.test_client().get(DOCUMENTS[version])
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


@pytest.fixture
def spec(sqlite_app):
    return served(sqlite_app, "2.0")


@pytest.fixture
def spec3(sqlite_app):
    return served(sqlite_app, "3.1.0")


def test_served_documents_are_valid(spec, spec3):
    assert spec["swagger"] == "2.0" and spec["basePath"] == "/api/v1"
    validate(spec)
    assert spec3["openapi"] == "3.1.0" and spec3["servers"] == [{"url": "/api/v1"}]
    validate(spec3)


def test_both_documents_describe_the_same_operations(spec, spec3):
    def summary(document):
        return {(p, m): (op["operationId"], sorted(op["responses"])) for p, m, op in operations(document)}

    assert summary(spec) == summary(spec3)
    # 2.0 documents form fields as parameters, 3.x as a schema.
    assert spec["definitions"].keys() == spec3["components"]["schemas"].keys() - {"EchoForm"}


def test_exported_documents_match_the_served_ones(sqlite_app, spec, spec3, tmp_path):
    out2, out3 = tmp_path / "swagger.json", tmp_path / "openapi.json"
    subprocess.run(
        [sys.executable, "-m", "swagger_export", "-o", str(out2), "--openapi", str(out3)],
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    assert json.loads(out2.read_text()) == spec
    assert json.loads(out3.read_text()) == spec3
    assert build_spec(sqlite_app, "2.0") == spec and build_spec(sqlite_app, "3.1.0") == spec3


def test_every_error_is_a_problem(spec, spec3):
    for path, method, op in operations(spec):
        errors = [code for code in op["responses"] if int(code) >= 400]
        if errors:
            assert PROBLEM in op["produces"], (path, method)
        for code in errors:
            response = op["responses"][code]
            assert response["schema"] == {"$ref": "#/definitions/Problem"}
            assert response["examples"][PROBLEM]["status"] == int(code)
    for path, method, op in operations(spec3):
        for code, response in op["responses"].items():
            if int(code) >= 400:
                assert set(response["content"]) == {PROBLEM}, (path, method, code)
                media = response["content"][PROBLEM]
                assert media["schema"] == {"$ref": "#/components/schemas/Problem"}
                assert media["example"]["status"] == int(code) and media["example"]["title"] != "string"
    assert "responses" not in spec  # no Flask-RESTX ParseError/MaskError leftovers


def test_bodies_can_be_refused_as_too_large_or_not_json(spec3):
    for path, method, op in operations(spec3):
        if "application/json" in op.get("requestBody", {}).get("content", {}):
            assert {"400", "413"} <= set(op["responses"]), (path, method)


def test_every_filter_and_sort_is_a_documented_parameter(spec, spec3):
    everything = spec["paths"]["/wdtests"]["get"]["parameters"]
    params = {p["name"]: p for p in everything if p["in"] == "query"}
    assert set(params) == set(WdtestQuery().fields)
    assert {p["name"] for p in everything if p["in"] == "header"} == {"If-None-Match"}
    assert params["sort"]["type"] == "array" and params["sort"]["collectionFormat"] == "csv"
    assert params["per_page"]["maximum"] == 100
    assert all(p["in"] == "query" for p in params.values())
    params3 = {p["name"]: p for p in spec3["paths"]["/wdtests"]["get"]["parameters"]}
    assert params3["sort"]["style"] == "form" and params3["sort"]["explode"] is False
    assert params3["sort"]["schema"]["minItems"] == 1
    assert params3["age__gte"]["schema"]["maximum"] == 2**63 - 1


@pytest.mark.parametrize("version", DOCUMENTS)
def test_conditional_and_idempotent_requests_are_documented(sqlite_app, version):
    spec = served(sqlite_app, version)

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
    models = spec["definitions"] if version == "2.0" else spec["components"]["schemas"]
    assert "version" in models["WdtestOut"]["required"]


def test_models_come_from_the_schemas(spec, spec3):
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
    # instance is optional: gunicorn and nginx answer some errors before a path is known.
    assert set(definitions["Problem"]["required"]) == {"type", "title", "status", "detail"}
    schemas = spec3["components"]["schemas"]
    assert schemas["WdtestOut"]["properties"]["age"]["type"] == ["integer", "null"]
    headers = schemas["MessagePublish"]["properties"]["headers"]
    assert headers["maxProperties"] == 64 and "maxLength" not in headers
    assert schemas["MessageOut"]["properties"]["headers"]["additionalProperties"] == {"type": "string"}
    for name in ("MessagePublish", "MessageOut"):
        assert "type" not in schemas[name]["properties"]["body"]  # any JSON value, not an object


def test_every_operation_documents_the_front_limits(spec, spec3):
    for document in (spec, spec3):
        for path, method, op in operations(document):
            assert {"414", "431"} <= set(op["responses"]), f"{method} {path}"


def test_header_rules_are_patterns(spec, spec3):
    item = spec3["paths"]["/wdtests/{wdtest_id}"]["patch"]
    params = {p["name"]: p for p in item["parameters"]}
    assert params["If-Match"]["schema"]["pattern"].startswith("^") and params["If-Match"]["example"]
    assert params["Idempotency-Key"]["schema"]["pattern"] == "^[!-~]{1,255}$"
    params2 = {p["name"]: p for p in spec["paths"]["/wdtests/{wdtest_id}"]["patch"]["parameters"]}
    assert params2["If-Match"]["pattern"] == params["If-Match"]["schema"]["pattern"]
    divisor = {p["name"]: p for p in spec3["paths"]["/exceptions/divide"]["get"]["parameters"]}["b"]
    assert divisor["schema"]["not"] == {"const": 0}  # 2.0 has no "not"
    assert "not" not in {p["name"]: p for p in spec["paths"]["/exceptions/divide"]["get"]["parameters"]}["b"]


def test_echo_documents_its_form_and_file(spec, spec3):
    op = spec["paths"]["/demo/echo"]["post"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["file"] == {**params["file"], "in": "formData", "type": "file"}
    assert "multipart/form-data" in op["consumes"]
    content = spec3["paths"]["/demo/echo"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data", "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("config", "reads_locked", "writes_locked"),
    [({}, False, False), (KEYS, False, True), ({**KEYS, "API_READ_AUTH": True}, True, True)],
    ids=["no-keys", "keys", "read-auth"],
)
def test_padlock_and_401_follow_the_auth_settings(make_app, config, reads_locked, writes_locked):
    app = make_app(**config)
    for version in DOCUMENTS:
        document = served(app, version)
        scheme = document["securityDefinitions" if version == "2.0" else "components"]
        assert "apikey" in json.dumps(scheme)
        assert "security" not in document  # per operation only
        for path, method, op in operations(document):
            locked = writes_locked if method in ("post", "put", "patch", "delete") else reads_locked
            assert (op.get("security") == [{"apikey": []}]) is locked, (version, path, method)
            if path != "/exceptions/abort/{code}":  # documents every status it can abort with
                assert ("401" in op["responses"]) is locked, (version, path, method)


def test_documents_need_no_key(make_app):
    client = make_app(**KEYS, API_READ_AUTH=True).test_client()
    for url in DOCUMENTS.values():
        assert client.get(url).status_code == 200


def test_docs_ui_offers_both_documents_with_local_assets(sqlite_app):
    client = sqlite_app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "SwaggerUIBundle" in html
    for url in DOCUMENTS.values():
        assert f'"{url}"' in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert "/docs/assets/swagger-ui-bundle.js" in html
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 1_200_000  # Swagger UI 5, not RESTX's 4
    asset.close()
