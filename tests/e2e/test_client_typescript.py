"""TypeScript clients generated from each served document, type-checked with ``tsc --strict``
and run with Node against live servers: openapi-generator's ``typescript-fetch``, and
openapi-typescript + openapi-fetch (OpenAPI 3 only). Versions: tests/e2e/ts/package-lock.json."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.helpers.live_server import API_KEY, BIN, SPECS, generated, run

TS = Path(__file__).parent / "ts"
NODE_MODULES = TS / "node_modules"


@pytest.fixture(scope="session")
def npm_packages():
    """``npm ci`` from the lock file, once per change of the lock file."""
    if shutil.which("npm") is None:
        pytest.fail("npm is not installed (Node 20 and npm are part of the machine)")
    lock_hash = hashlib.sha256((TS / "package-lock.json").read_bytes()).hexdigest()
    stamp = NODE_MODULES / ".lock-hash"
    if not stamp.exists() or stamp.read_text() != lock_hash:
        run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS)
        stamp.write_text(lock_hash)
    return NODE_MODULES


def served_spec(server, kind: str) -> dict:
    spec = server.spec(kind)
    if spec is None:
        pytest.fail(f"{SPECS[kind]} is not served")
    return spec


def compile_and_run(project, source: str, driver: str, *args: str) -> str:
    """``tsc --strict`` over ``ts/<source>/<driver>`` beside the generated code, then Node runs it."""
    shutil.copy(TS / source / driver, project / driver)
    config = {"extends": "../../tsconfig.base.json", "files": [driver], "compilerOptions": {"outDir": "dist"}}
    (project / "tsconfig.json").write_text(json.dumps(config))
    run([str(NODE_MODULES / ".bin" / "tsc"), "-p", str(project / "tsconfig.json")])
    return run(["node", str(project / "dist" / driver.replace(".ts", ".js")), *args]).stdout


# On the 3.1 document, skipFormModel=false: the generator skips models used by forms only, yet
# imports /demo/echo's (OpenAPITools/openapi-generator#11730). Not on 2.0, whose form fields are
# parameters: there the model it would write clashes with the operation's request interface.
TYPESCRIPT_FETCH_OPTIONS = {"openapi3": ("--global-property", "skipFormModel=false"), "swagger2": ()}


def typescript_fetch(server, kind: str):
    options = TYPESCRIPT_FETCH_OPTIONS[kind]

    def generate(spec_file, out):
        # The command of docs/api.md, "Generating clients".
        run(
            [str(BIN / "openapi-generator-cli"), "generate", "-g", "typescript-fetch"]
            + ["-i", str(spec_file), "-o", str(out / "client"), *options]
        )

    spec = served_spec(server, kind)
    return generated(kind, spec, "typescript-fetch", generate, TS / ".cache", options=options)


@pytest.mark.parametrize("kind", list(SPECS))
def test_typescript_fetch_client_drives_every_namespace(npm_packages, open_server, keyed_server, kind):
    project = typescript_fetch(keyed_server, kind)
    out = compile_and_run(
        project, "typescript-fetch", "driver.ts", open_server.api, keyed_server.api, API_KEY
    )
    assert "every step passed" in out


# openapi-generator reads Swagger 2.0 through swagger-parser, whose 2.0 converter makes a schema
# without a type an object (swagger-api/swagger-parser#1378): 2.0's "any JSON value" body is typed
# `object | null`. The 3.1 document's typeless schema is `any`.
SWAGGER2_ANY_JSON = pytest.mark.xfail(
    strict=True, raises=AssertionError, reason="swagger-parser#1378: 2.0 typeless schema read as object"
)


@pytest.mark.parametrize(
    "kind", [pytest.param(kind, marks=SWAGGER2_ANY_JSON) if kind == "swagger2" else kind for kind in SPECS]
)
def test_typescript_fetch_client_sends_any_json_body(npm_packages, open_server, keyed_server, kind):
    project = typescript_fetch(keyed_server, kind)
    assert "every step passed" in compile_and_run(project, "typescript-fetch", "bodies.ts", open_server.api)


@pytest.mark.parametrize("kind", list(SPECS))
def test_openapi_fetch_client_drives_every_namespace(npm_packages, open_server, keyed_server, kind):
    if kind == "swagger2":
        pytest.skip("openapi-typescript 7 reads OpenAPI 3.x only")
    spec = served_spec(keyed_server, kind)

    # A field with a default is optional to send (QueueDeclare.type): by default openapi-typescript
    # 7 makes it required in request bodies too.
    options = ("--default-non-nullable=false",)

    def generate(spec_file, out):
        run(
            [
                str(NODE_MODULES / ".bin" / "openapi-typescript"),
                str(spec_file),
                *options,
                "-o",
                str(out / "schema.d.ts"),
            ]
        )

    project = generated(kind, spec, "openapi-fetch", generate, TS / ".cache", options=options)
    out = compile_and_run(project, "openapi-fetch", "driver.ts", open_server.api, keyed_server.api, API_KEY)
    assert "every step passed" in out
