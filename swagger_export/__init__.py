"""Export the documents a named environment serves, for client generators and linters:
Swagger 2.0 and OpenAPI 3.1."""

from __future__ import annotations

import json

from flask import Flask

from core.paths import OPENAPI_3, SWAGGER_2
from factory import create_app

VERSIONS = {"2": SWAGGER_2, "3": OPENAPI_3}
# Stand-ins for what production refuses to start without. Neither reaches a document: any key
# gives the same padlocks, and the secret signs nothing in it.
PLACEHOLDERS = {"prod": {"API_KEYS": ("placeholder-api-key",), "SECRET_KEY": "placeholder-secret-key"}}


def export_app(env: str = "prod") -> Flask:
    """The app as environment ``env`` (``prod``, ``dev``, ``test``) builds it from its declared
    settings, with placeholders where it needs secrets."""
    # The environment's declared settings, not the shell's: a stray API_READ_AUTH=false
    # must not change what is exported as production's documents.
    overrides = {"ENV_NAME": env, "SQLALCHEMY_ECHO": False, **PLACEHOLDERS.get(env, {})}
    return create_app(overrides, environ={})


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
