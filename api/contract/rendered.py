"""Pre-rendered JSON bodies: what the read cache stores and sends back untouched."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response
from marshmallow import Schema, fields

from api.contract.dumping import dumper
from api.contract.responses import RESTX_JSON
from core.context import app_object


def render_json(data: Any) -> bytes:
    """``data`` as the bytes a RESTX resource would send."""
    return (json.dumps(data, **RESTX_JSON) + "\n").encode()  # type: ignore[arg-type]


def _shape(schema: Schema) -> list:
    """What ``schema`` dumps: each field's key, type and nullability, nested schemas included."""

    def describe(field: fields.Field) -> list:
        inner: Any = None
        if isinstance(field, fields.Nested):
            inner = _shape(field.schema)
        elif isinstance(field, fields.List):
            inner = describe(field.inner)
        return [type(field).__name__, field.allow_none, inner]

    return sorted(
        [field.data_key or name, describe(field)]
        for name, field in schema.fields.items()
        if not field.load_only
    )


def schema_version(schema: Schema) -> str:
    """A short fingerprint of ``schema``'s output: a cached body of another version is never served."""
    encoding = sorted((k, getattr(v, "__qualname__", v)) for k, v in RESTX_JSON.items())
    shape = json.dumps([_shape(schema), encoding])
    return hashlib.sha256(shape.encode()).hexdigest()[:12]


class JSONRenderer:
    """Dumps an object with ``schema`` to the bytes a RESTX resource would send; ``version``
    is the format's fingerprint, which the read cache keys its entries by."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.dump = dumper(schema)
        self.version = schema_version(schema)

    def __call__(self, obj: Any) -> bytes:
        return render_json(self.dump(obj))


def json_response(body: bytes, headers: dict[str, str] | None = None) -> Response:
    """A 200 response carrying ``body`` as is (RESTX passes Response objects through)."""
    return app_object().response_class(body, 200, headers, mimetype="application/json")
