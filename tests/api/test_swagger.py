"""The documents: Swagger 2.0 and OpenAPI 3.1 from the same declarations, both valid,
complete, true to the settings, and exported identically."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from api.contract.operations import OPERATION_ID, VERBS
from api.schemas.fields import REQUEST_LINE_MAX
from api.schemas.wdtests import WdtestQuery
from services.keyvalue import VALUE_MAX_BYTES
from settings.declaration import BY_KEY
from swagger_export import build_spec
from tests.helpers.env import clean_env

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


def export(tmp_path, *args: str, **env: str) -> tuple[dict, dict]:
    out2, out3 = tmp_path / "swagger.json", tmp_path / "openapi.json"
    subprocess.run(
        [sys.executable, "-m", "swagger_export", "-o", str(out2), "--openapi", str(out3), *args],
        cwd=ROOT,
        env={**clean_env(), **env},
        check=True,
        timeout=120,
    )
    return json.loads(out2.read_text()), json.loads(out3.read_text())


def test_exported_documents_match_the_served_ones(sqlite_app, spec, spec3, tmp_path):
    assert export(tmp_path, "--env", "test") == (spec, spec3)
    assert build_spec(sqlite_app, "2.0") == spec and build_spec(sqlite_app, "3.1.0") == spec3


def test_the_export_is_production_by_default_whatever_the_shell_says(make_app, tmp_path):
    # Another key and secret than the export's placeholders: neither may show in a document.
    production = make_app(ENV_NAME="prod", API_KEYS="a-real-key-1234", SECRET_KEY="a-real-secret")
    documents = export(tmp_path, APP_ENV="test", API_READ_AUTH="false", DEMOS_ENABLED="true")
    assert documents == (served(production, "2.0"), served(production, "3.1.0"))
    assert "/demo/echo" not in documents[0]["paths"]
    assert all(op["security"] == [{"apikey": []}] for _, _, op in operations(documents[1]))


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
        assert document["security"] == ([{"apikey": []}] if writes_locked else [])
        for path, method, op in operations(document):
            locked = writes_locked if method in ("post", "put", "patch", "delete") else reads_locked
            assert op["security"] == ([{"apikey": []}] if locked else []), (version, path, method)
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


# The operations of the production API and their ids (the demos' are checked by the rule only).
OPERATION_IDS = {
    ("/wdtests", "get"): "list_wdtests",
    ("/wdtests", "post"): "create_wdtest",
    ("/wdtests/{wdtest_id}", "get"): "get_wdtest",
    ("/wdtests/{wdtest_id}", "put"): "replace_wdtest",
    ("/wdtests/{wdtest_id}", "patch"): "update_wdtest",
    ("/wdtests/{wdtest_id}", "delete"): "delete_wdtest",
    ("/redis/keys/{key}", "get"): "get_redis_key",
    ("/redis/keys/{key}", "put"): "put_redis_key",
    ("/redis/keys/{key}", "delete"): "delete_redis_key",
    ("/redis/ping", "get"): "ping_redis",
    ("/rabbitmq/queues/{name}", "put"): "declare_queue",
    ("/rabbitmq/queues/{name}", "get"): "get_queue",
    ("/rabbitmq/queues/{name}", "delete"): "delete_queue",
    ("/rabbitmq/queues/{name}/messages", "post"): "publish_message",
    ("/rabbitmq/queues/{name}/messages/get", "post"): "take_messages",
}


def test_every_operation_has_a_unique_id_of_the_vocabulary(spec, spec3):
    ids = {(path, method): op["operationId"] for path, method, op in operations(spec3)}
    assert len(set(ids.values())) == len(ids)
    for name in ids.values():
        match = OPERATION_ID.fullmatch(name)
        assert match is not None and match.group(1) in VERBS, name
    assert {key: ids[key] for key in OPERATION_IDS} == OPERATION_IDS
    assert {(p, m): op["operationId"] for p, m, op in operations(spec)} == ids


def test_every_operation_has_one_tag_a_summary_and_a_description(spec3):
    tags = {tag["name"] for tag in spec3["tags"]}
    for path, method, op in operations(spec3):
        assert len(op["tags"]) == 1 and op["tags"][0] in tags, (path, method)
        assert op["tags"][0] == path.split("/")[1], (path, method)  # the namespace's
        assert op["summary"] and op["description"] and op["description"] != op["summary"], (path, method)


def _schemas(node):
    """Every (sub)schema with a type under ``node``."""
    if isinstance(node, dict):
        if "type" in node and not isinstance(node["type"], dict):
            yield node
        for value in node.values():
            yield from _schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas(value)


def _inputs(spec3) -> list:
    """What a client sends: parameters and request bodies, their references resolved."""
    models = spec3["components"]["schemas"]

    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(models[node["$ref"].rsplit("/", 1)[1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    found = []
    for item in spec3["paths"].values():
        found += [p["schema"] for p in item.get("parameters", [])]
        for method, op in item.items():
            if method != "parameters":
                found += [p["schema"] for p in op.get("parameters", [])]
                found += [m["schema"] for m in op.get("requestBody", {}).get("content", {}).values()]
    return [resolve(schema) for schema in found]


def test_every_input_string_and_array_is_bounded(spec3):
    def types(schema):
        return schema["type"] if isinstance(schema["type"], list) else [schema["type"]]

    unbounded = []
    for schema in _schemas(_inputs(spec3)):
        if "string" in types(schema) and not {"maxLength", "enum", "const"} & set(schema):
            unbounded.append(schema)
        if "array" in types(schema) and "maxItems" not in schema:
            unbounded.append(schema)
        if "integer" in types(schema) and not ({"minimum", "maximum"} <= set(schema) or "enum" in schema):
            unbounded.append(schema)
    assert not unbounded


def test_every_integer_has_a_format(spec, spec3):
    for document in (spec, spec3):
        for schema in _schemas(document):
            if schema["type"] == "integer" or "integer" in schema["type"]:
                assert schema.get("format") in ("int32", "int64"), schema


def test_bounds_come_from_what_the_server_enforces(spec3):
    models = spec3["components"]["schemas"]
    assert models["KeyPut"]["properties"]["value"]["maxLength"] == VALUE_MAX_BYTES
    per_page = {p["name"]: p for p in spec3["paths"]["/wdtests"]["get"]["parameters"]}["per_page"]
    assert models["WdtestPage"]["properties"]["items"]["maxItems"] == per_page["schema"]["maximum"]
    params = {p["name"]: p["schema"] for p in spec3["paths"]["/wdtests"]["get"]["parameters"]}
    assert params["after"]["maxLength"] == REQUEST_LINE_MAX == BY_KEY["GUNICORN_LIMIT_REQUEST_LINE"].default
    line = BY_KEY["GUNICORN_LIMIT_REQUEST_FIELD_SIZE"].default
    assert params["If-None-Match"]["maxLength"] == line - len("If-None-Match: \r\n")
    patch = {p["name"]: p["schema"] for p in spec3["paths"]["/wdtests/{wdtest_id}"]["patch"]["parameters"]}
    assert patch["If-Match"]["maxLength"] == line - len("If-Match: \r\n")
    assert patch["Idempotency-Key"]["maxLength"] == 255


def test_error_examples_state_the_configured_limits(make_app):
    app = make_app(
        GUNICORN_LIMIT_REQUEST_LINE=2048,
        GUNICORN_LIMIT_REQUEST_FIELD_SIZE=4096,
        MAX_CONTENT_LENGTH=1000,
        RATELIMIT_ENABLED=True,
        RATELIMIT_APPLICATION="50 per second",
    )
    responses = served(app, "3.1.0")["paths"]["/wdtests"]["post"]["responses"]

    def detail(code):
        return responses[code]["content"][PROBLEM]["example"]["detail"]

    assert "2048 bytes" in detail("414") and "4096 bytes" in detail("431") and "1000 bytes" in detail("413")
    assert detail("429") == "50 per 1 second"
