"""Export the OpenAPI (Swagger 2.0) spec the app serves, for client generators."""

from __future__ import annotations

import json

from flask import Flask
from flask_restx import Swagger


def build_spec(app: Flask) -> dict:
    """The spec exactly as ``/api/v1/swagger.json`` serves it.

    ``Api.__schema__`` swallows errors into ``{"error": ...}``; building the
    ``Swagger`` directly lets a broken spec fail loudly instead.
    """
    api = app.extensions["wdapi.api"]
    with app.test_request_context():
        return json.loads(json.dumps(Swagger(api).as_dict()))


def write_spec(app: Flask, path: str) -> None:
    spec = build_spec(app)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(spec, fh, indent=2, ensure_ascii=False, sort_keys=True)
        fh.write("\n")
