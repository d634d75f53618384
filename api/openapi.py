"""The Swagger 2.0 document: Flask-RESTX docs built from the operations' declarations.

Every Swagger-2-specific detail lives here (apispec's "2.0" output, ``#/definitions``
references, ``collectionFormat``, no ``default: null``, examples on bodies only), so an
OpenAPI 3 document can be built beside it from the same records: each view function's
``api.operations.Operation`` and each resource's path schema. apispec converts the
marshmallow schemas; Flask-RESTX only receives its output, so no model is written twice.
"""

from __future__ import annotations

from http import HTTPStatus

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from flask_restx import Namespace
from flask_restx.swagger import parse_rule
from marshmallow import Schema
from werkzeug.routing.rules import parse_converter_args

from api.converters import RegexConverter
from api.operations import PATH_ATTR, Operation, operations, schema_name
from api.schemas.fields import DelimitedList
from api.schemas.problem import Problem

SWAGGER_VERSION = "2.0"
_documented: set[str] = set()


def _csv_collection(self, field, ret, **kwargs):
    # apispec documents list parameters as repeated (multi); ours are comma lists.
    return {"collectionFormat": "csv"} if isinstance(field, DelimitedList) else {}


def _spec() -> tuple[APISpec, MarshmallowPlugin]:
    # Nested schemas become definitions of their own, named by class like the rest.
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec("wdapi", "1", SWAGGER_VERSION, plugins=[plugin])
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


def _definition_ref(schema: Schema) -> dict:
    return {"$ref": f"#/definitions/{schema_name(schema)}"}


def query_params(schema: Schema) -> dict:
    """Swagger query parameters for every field of ``schema`` (for ``ns.doc(params=...)``)."""
    _, plugin = _spec()
    assert plugin.converter is not None
    params = plugin.converter.schema2parameters(schema, location="query")
    for p in params:
        p.pop("example", None)  # Swagger 2.0 allows examples on bodies only
    return {p.pop("name"): _drop_null_defaults(p) for p in params}


def _models(ns: Namespace, ops: list[Operation]) -> dict:
    """Register ``Problem`` and every body and response schema (nested ones included)
    as Swagger models on ``ns``; return name -> model."""
    spec, _ = _spec()
    schemas: list[Schema] = [Problem()]
    for op in ops:
        schemas += [op.body] if op.body is not None else []
        schemas += [r.schema for r in op.responses.values() if r.schema is not None]
    for schema in schemas:
        if schema_name(schema) not in spec.components.schemas:
            spec.components.schema(schema_name(schema), schema=schema)
    definitions = spec.to_dict()["definitions"]
    return {name: ns.schema_model(name, _drop_null_defaults(d)) for name, d in definitions.items()}


def _document_path(ns: Namespace, app: Flask, resource, urls) -> None:
    """Path parameters: described by the resource's path schema, typed by the URL converter."""
    schema = getattr(resource, PATH_ATTR, None)
    variables = {}
    for url in urls:
        for converter, arguments, variable in _url_variables(url):
            variables[variable] = _converter_doc(app, converter, arguments)
    declared = set(schema.fields) if schema is not None else set()
    if declared != set(variables):
        raise TypeError(f"{resource.__name__}: path schema {declared} != URL variables {set(variables)}")
    for name, extra in variables.items():
        assert schema is not None  # declared == variables, so a variable has a schema
        ns.param(name, schema.fields[name].metadata.get("description"), **extra)(resource)


def _url_variables(url: str):
    return [(c, a, v) for c, a, v in parse_rule(url) if c]


def _converter_doc(app: Flask, converter: str, arguments: str | None) -> dict:
    # Flask-RESTX types the parameter from the converter; a regex converter adds its pattern.
    converter_class = app.url_map.converters.get(converter)
    if converter_class is None or not issubclass(converter_class, RegexConverter):
        return {}
    args, kwargs = parse_converter_args(arguments or "")
    return {"pattern": f"^{converter_class(app.url_map, *args, **kwargs).regex}$"}


def _document_operation(ns: Namespace, models: dict, view, op: Operation) -> None:
    # Applied in the order Flask-RESTX's own decorators were, bottom-up.
    for code in op.errors:
        ns.response(code, HTTPStatus(code).phrase, models["Problem"])(view)
    for success in op.responses.values():
        model = models[schema_name(success.schema)] if success.schema is not None else None
        extra = {"headers": success.headers} if success.headers else {}
        ns.response(success.code, success.description, model, **extra)(view)
    if op.body is not None:
        if op.body_required:
            ns.expect(models[schema_name(op.body)])(view)
        else:
            # ns.expect marks the body required; this one may be left out.
            payload = {"in": "body", "required": False, "schema": _definition_ref(op.body)}
            ns.doc(params={"payload": payload})(view)
    if op.query is not None:
        ns.doc(params=query_params(op.query))(view)
    for name, description in op.headers.items():
        ns.doc(params={name: {"in": "header", "type": "string", "description": description}})(view)


def document(ns: Namespace, app: Flask) -> None:
    """Write the Flask-RESTX docs of every operation of ``ns`` (once: namespaces are shared by apps)."""
    if ns.name in _documented:
        return
    views = []
    for route in ns.resources:
        _document_path(ns, app, route.resource, route.urls)
        for method, op in operations(route.resource).items():
            views.append((getattr(route.resource, method), op))
    models = _models(ns, [op for _, op in views])
    for view, op in views:
        _document_operation(ns, models, view, op)
    _documented.add(ns.name)
