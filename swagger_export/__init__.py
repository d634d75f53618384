"""Export the documents the app serves, for client generators: Swagger 2.0 and OpenAPI 3.1."""

from __future__ import annotations

import json

from flask import Flask

from core.paths import OPENAPI_3, SWAGGER_2

VERSIONS = {"2": SWAGGER_2, "3": OPENAPI_3}


def build_spec(app: Flask, version: str = SWAGGER_2) -> dict:
    """The document exactly as ``/api/v1/swagger.json`` (2.0) or ``openapi.json`` (3.1) serves it."""
    api = app.extensions["wdapi.api"]
    with app.test_request_context():
        return json.loads(json.dumps(api.document(version)))


def dumps(spec: dict) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_spec(app: Flask, path: str, version: str = SWAGGER_2) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dumps(build_spec(app, version)))
