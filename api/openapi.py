"""Derive Flask-RESTX Swagger models and parameters from marshmallow schemas.

apispec does the marshmallow -> JSON Schema conversion; this module only hands
its output to Flask-RESTX, so no model is ever written twice.
"""

from __future__ import annotations

from http import HTTPStatus

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_restx import Namespace
from marshmallow import Schema

from api.schemas.fields import DelimitedList
from api.schemas.problem import Problem


def _csv_collection(self, field, ret, **kwargs):
    # apispec documents list parameters as repeated (multi); ours are comma lists.
    return {"collectionFormat": "csv"} if isinstance(field, DelimitedList) else {}


def _spec() -> tuple[APISpec, MarshmallowPlugin]:
    # None inlines nested schemas (apispec allows it; its annotation says str).
    plugin = MarshmallowPlugin(schema_name_resolver=lambda schema: None)  # type: ignore[arg-type,return-value]
    spec = APISpec("wdapi", "1", "2.0", plugins=[plugin])
    assert plugin.converter is not None  # set by APISpec(plugins=...)
    plugin.converter.add_parameter_attribute_function(_csv_collection)
    return spec, plugin


def _drop_null_defaults(node):
    # Swagger 2.0 validators reject "default": null on non-nullable types.
    if isinstance(node, dict):
        return {k: _drop_null_defaults(v) for k, v in node.items() if not (k == "default" and v is None)}
    if isinstance(node, list):
        return [_drop_null_defaults(v) for v in node]
    return node


def register_models(ns: Namespace, schemas: dict[str, Schema | type[Schema]]) -> dict:
    """Register each schema (in order, so later ones can reference earlier ones)
    plus ``Problem`` as Swagger models on ``ns``; return name -> model."""
    spec, _ = _spec()
    for name, schema in {"Problem": Problem, **schemas}.items():
        spec.components.schema(name, schema=schema)
    definitions = spec.to_dict()["definitions"]
    return {name: ns.schema_model(name, _drop_null_defaults(d)) for name, d in definitions.items()}


def query_params(schema: Schema | type[Schema]) -> dict:
    """Swagger query parameters for every field of ``schema`` (for ``ns.doc(params=...)``)."""
    _, plugin = _spec()
    assert plugin.converter is not None
    params = plugin.converter.schema2parameters(schema, location="query")
    for p in params:
        p.pop("example", None)  # Swagger 2.0 allows examples on bodies only
    return {p.pop("name"): _drop_null_defaults(p) for p in params}


def error_responses(ns: Namespace, *codes: int):
    """Document problem+json responses for ``codes`` on an operation."""
    problem = ns.models["Problem"]

    def decorate(func):
        for code in codes:
            func = ns.response(code, HTTPStatus(code).phrase, problem)(func)
        return func

    return decorate
