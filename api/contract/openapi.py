"""The API documents: Swagger 2.0 and OpenAPI 3.1, built from the same declarations.

Both come from each view's ``api.contract.operations.Operation``, each resource's path schema and
the app's settings (which operations need an API key); apispec converts the marshmallow
schemas. Every version-specific detail lives in this module: ``#/definitions`` or
``#/components/schemas``, ``collectionFormat`` or ``style``/``explode``, body parameters
or ``requestBody``, ``produces`` or ``content``. Flask-RESTX only routes and serves.
"""

from __future__ import annotations

import copy
import inspect
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from flask_restx import Api
from flask_restx.swagger import extract_path, parse_rule
from limits import parse as parse_limit
from marshmallow import Schema, fields
from werkzeug.routing.rules import parse_converter_args

from api.contract.converters import RegexConverter
from api.contract.errors import PROBLEM_MIMETYPE
from api.contract.operations import PATH_ATTR, Operation, header_max_length, operations, schema_name
from api.pipeline.access import API_KEY_HEADER, auth_applies, rate_limit_applies
from api.schemas.fields import DelimitedList, Upload
from api.schemas.problem import Problem

JSON = "application/json"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def example_details(config) -> dict[int, str]:
    """What an error answers, per status: the detail of the Problem example. The limits come
    from the settings, as the server that answers them reads them."""
    return {
        400: "Invalid request body: name.",
        401: f"Send a valid API key in the {API_KEY_HEADER} header.",
        404: "No record 'no-such-id'.",
        409: "A record with id '3' already exists.",
        413: f"The request body is larger than {config['MAX_CONTENT_LENGTH']} bytes.",
        414: f"The request line exceeds {config['GUNICORN_LIMIT_REQUEST_LINE']} bytes.",
        415: "Did not attempt to load JSON data because the request Content-Type was not 'application/json'.",
        429: str(parse_limit(config["RATELIMIT_APPLICATION"])),  # as Flask-Limiter words it
        431: f"A request header exceeds {config['GUNICORN_LIMIT_REQUEST_FIELD_SIZE']} bytes.",
        503: "The database is unavailable; try again shortly.",
    }


# Answered by the server in front of the app (gunicorn, nginx) to any request past its limits
# (README "Errors"): a long query string or header reaches no view.
FRONT_LIMITS = frozenset({414, 431})

# What a 429 carries (api.pipeline.ratelimit); the RateLimit-* names are the IETF draft's.
RATE_LIMIT_HEADERS = {
    "Retry-After": {
        "type": "integer",
        "format": "int32",
        "description": "Seconds until the caller's budget is renewed",
    },
    "RateLimit-Limit": {"type": "integer", "format": "int32", "description": "Requests per window"},
    "RateLimit-Remaining": {
        "type": "integer",
        "format": "int32",
        "description": "Requests left in this window",
    },
    "RateLimit-Reset": {"type": "integer", "format": "int32", "description": "Seconds until the window ends"},
}


def _v2(spec: APISpec) -> bool:
    return spec.openapi_version.major < 3


def _list_style(self, field, ret, **kwargs) -> dict:
    # apispec documents list parameters as repeated; ours are one comma list (the server
    # accepts the repeated form too).
    if not isinstance(field, DelimitedList):
        return {}
    if self.openapi_version.major < 3:
        return {"collectionFormat": "csv"}
    return {"style": "form", "explode": False}


def _dict_size(self, field, ret, **kwargs) -> dict:
    # apispec reads Length on a Dict as a string length; for an object it counts properties.
    if not isinstance(field, fields.Dict):
        return {}
    out = {}
    for length, properties in (("minLength", "minProperties"), ("maxLength", "maxProperties")):
        if length in ret:
            out[properties] = ret.pop(length)
    if field.key_field is not None and self.openapi_version.major >= 3:
        names = self.field2property(field.key_field)
        names.pop("type", None)
        if names:
            out["propertyNames"] = names
    return out


INT32 = (-(2**31), 2**31 - 1)


def _integer_format(self, field, ret, **kwargs) -> dict:
    # int32 when the field's bounds fit in it, else int64: generated clients pick their type by it.
    if not isinstance(field, fields.Integer):
        return {}
    low, high = ret.get("minimum"), ret.get("maximum")
    if "enum" in ret:
        low, high = min(ret["enum"]), max(ret["enum"])
    fits = low is not None and high is not None and INT32[0] <= low and high <= INT32[1]
    return {"format": "int32" if fits else "int64"}


def _upload(self, field, ret, **kwargs) -> dict:
    if not isinstance(field, Upload):
        return {}
    if self.openapi_version.major < 3:
        return {"type": "file"}
    # 3.1's form of a file (format: binary is 3.0's): a part of raw bytes, no JSON value, so no
    # JSON type either (a fuzzer would "break" the type of bytes no server reads as JSON).
    return {"contentMediaType": "application/octet-stream"}


def _spec(version: str, api: Api) -> tuple[APISpec, MarshmallowPlugin]:
    # Nested schemas become components of their own, named by class like the rest.
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(
        api.title,
        api.version,
        version,
        plugins=[plugin],
        info={
            "description": api.description,
            "contact": {"name": api.contact},
        },
    )
    converter = plugin.converter
    assert converter is not None  # set by APISpec(plugins=...)
    converter.add_parameter_attribute_function(_list_style)
    converter.add_attribute_function(_dict_size)
    converter.add_attribute_function(_upload)
    converter.add_attribute_function(_integer_format)
    return spec, plugin


def _drop_null_defaults(node):
    # Swagger 2.0 validators reject "default": null on non-nullable types.
    if isinstance(node, dict):
        return {k: _drop_null_defaults(v) for k, v in node.items() if not (k == "default" and v is None)}
    if isinstance(node, list):
        return [_drop_null_defaults(v) for v in node]
    return node


def _ref(spec: APISpec, schema: Schema) -> dict:
    name = schema_name(schema)
    if name not in spec.components.schemas:
        spec.components.schema(name, schema=schema)
    prefix = "#/definitions/" if _v2(spec) else "#/components/schemas/"
    return {"$ref": prefix + name}


def problem_example(code: int, path: str, details: dict[int, str]) -> dict:
    """A Problem as the server answers ``code`` on ``path``."""
    return {
        "type": "about:blank",
        "title": HTTPStatus(code).phrase,
        "status": code,
        "detail": details.get(code, HTTPStatus(code).description),
        "instance": path,
    }


def _parameters(spec: APISpec, plugin: MarshmallowPlugin, schema: Schema, location: str) -> list[dict]:
    assert plugin.converter is not None
    params = plugin.converter.schema2parameters(schema, location=location)
    if _v2(spec):
        for p in params:
            p.pop("example", None)  # Swagger 2.0 allows examples on bodies only
            p.pop("not", None)  # nor "not" on parameters
    return params


def _path_parameters(spec, plugin, app: Flask, resource, urls) -> list[dict]:
    """Described by the resource's path schema; a regex converter adds its pattern."""
    schema = getattr(resource, PATH_ATTR, None)
    patterns = {}
    for url in urls:
        for converter, arguments, variable in parse_rule(url):
            if converter:
                patterns[variable] = _converter_pattern(app, converter, arguments)
    declared = set(schema.fields) if schema is not None else set()
    if declared != set(patterns):
        raise TypeError(f"{resource.__name__}: path schema {declared} != URL variables {set(patterns)}")
    if schema is None:
        return []
    params = _parameters(spec, plugin, schema, "path")
    for p in params:
        pattern = patterns[p["name"]]
        if pattern:
            target = p if _v2(spec) else p["schema"]
            target.update(type="string", pattern=pattern)
            for number_only in ("minimum", "maximum", "format"):
                target.pop(number_only, None)
    return params


def _converter_pattern(app: Flask, converter: str, arguments: str | None) -> str | None:
    converter_class = app.url_map.converters.get(converter)
    if converter_class is None or not issubclass(converter_class, RegexConverter):
        return None
    args, kwargs = parse_converter_args(arguments or "")
    return f"^{converter_class(app.url_map, *args, **kwargs).regex}$"


def _header(spec: APISpec, declared: dict) -> dict:
    declared = dict(declared)
    description = declared.pop("description", None)
    header = declared if _v2(spec) else {"schema": declared}
    return {**header, **({"description": description} if description else {})}


def _success(spec: APISpec, success) -> dict:
    out: dict[str, Any] = {"description": success.description or HTTPStatus(success.code).phrase}
    if success.schema is not None:
        ref = _ref(spec, success.schema)
        if _v2(spec):
            out["schema"] = ref
        else:
            out["content"] = {JSON: {"schema": ref}}
    if success.headers:
        out["headers"] = {name: _header(spec, h) for name, h in success.headers.items()}
    return out


def _error(spec: APISpec, code: int, path: str, details: dict[int, str]) -> dict:
    ref, example = _ref(spec, Problem()), problem_example(code, path, details)
    out: dict[str, Any] = {"description": HTTPStatus(code).phrase}
    if _v2(spec):
        out.update(schema=ref, examples={PROBLEM_MIMETYPE: example})
    else:
        out["content"] = {PROBLEM_MIMETYPE: {"schema": ref, "example": example}}
    if code == 401:
        out["headers"] = {"WWW-Authenticate": _header(spec, {"type": "string"})}
    if code == 429:
        out["headers"] = {name: _header(spec, h) for name, h in RATE_LIMIT_HEADERS.items()}
    return out


def _body_v2(spec: APISpec, plugin, op: Operation) -> tuple[list[dict], list[str]]:
    """Body parameters and the consumed media types."""
    if op.form is not None:
        # 2.0 cannot document a JSON body beside form fields: the form is documented.
        return _parameters(spec, plugin, op.form, "formData"), list(FORM_TYPES)
    if op.body is None:
        return [], []
    param = {"in": "body", "name": "payload", "required": op.body_required, "schema": _ref(spec, op.body)}
    return [param], [JSON]


def _body_v3(spec: APISpec, op: Operation) -> dict | None:
    content = {}
    if op.body is not None:
        content[JSON] = {"schema": _ref(spec, op.body)}
    if op.form is not None:
        if op.form_json:
            content[JSON] = {"schema": {"description": "Any JSON value"}}
        for media in FORM_TYPES:
            content[media] = {"schema": _ref(spec, op.form)}
    if not content:
        return None
    return {"required": op.body is not None and op.body_required, "content": content}


def _operation(
    spec, plugin, app: Flask, tag: str, path: str, method: str, resource, view, op: Operation
) -> dict:
    if op.operation_id is None:
        raise TypeError(f"{resource.__name__}.{method}: no @operation_id")
    summary, _, description = inspect.cleandoc(view.__doc__ or "").partition("\n")
    if not description.strip():
        raise TypeError(f"{resource.__name__}.{method}: the docstring needs a body (the description)")
    doc: dict[str, Any] = {
        # The tag groups operations in Swagger UI and names the generated clients' API classes.
        "tags": [tag],
        "operationId": op.operation_id,
        "summary": summary.rstrip("."),
        "description": description.strip(),
    }
    needs_key = auth_applies(app.config, method.upper())
    limited = rate_limit_applies(app.config)
    codes = sorted(
        set(op.errors) | FRONT_LIMITS | ({401} if needs_key else set()) | ({429} if limited else set())
    )
    parameters = _parameters(spec, plugin, op.query, "query") if op.query is not None else []
    for name, (description, value_schema) in op.headers.items():
        value_schema = {
            **value_schema,
            "maxLength": header_max_length(name, app.config, value_schema.get("maxLength")),
        }
        example = value_schema.pop("example", None)
        if _v2(spec):
            value = value_schema  # 2.0 has no examples on parameters
        else:
            value = {"schema": value_schema, **({"example": example} if example is not None else {})}
        parameters.append({"in": "header", "name": name, "description": description, **value})
    if _v2(spec):
        body_params, consumes = _body_v2(spec, plugin, op)
        parameters += body_params
        if consumes and consumes != [JSON]:
            doc["consumes"] = consumes
        produces = ([JSON] if any(s.schema is not None for s in op.responses.values()) else []) + (
            [PROBLEM_MIMETYPE] if codes else []
        )
        if produces:
            doc["produces"] = produces
    else:
        request_body = _body_v3(spec, op)
        if request_body is not None:
            doc["requestBody"] = request_body
            # openapi-generator names the body argument as the 2.0 body parameter is named.
            doc["x-codegen-request-body-name"] = "payload"
    if parameters:
        doc["parameters"] = parameters
    responses = {str(s.code): _success(spec, s) for s in op.responses.values()}
    details = example_details(app.config)
    responses.update({str(code): _error(spec, code, path, details) for code in codes})
    doc["responses"] = dict(sorted(responses.items()))
    # Stated on every operation: [] is public, whatever the document-wide default says.
    doc["security"] = [{"apikey": []}] if needs_key else []
    return doc


def build(app: Flask, api: Api, version: str) -> dict:
    """The document of ``api`` as served by ``app``, in Swagger ``2.0`` or OpenAPI ``3.1.0``."""
    spec, plugin = _spec(version, api)
    if _v2(spec):
        spec.options.update(basePath=api.prefix, consumes=[JSON], produces=[JSON])
    else:
        spec.options["servers"] = [{"url": api.prefix}]
    spec.components.security_scheme("apikey", {"type": "apiKey", "in": "header", "name": API_KEY_HEADER})
    # The default for the whole document: the key wherever a write needs one.
    spec.options["security"] = [{"apikey": []}] if auth_applies(app.config, "POST") else []
    spec.components.schema("Problem", schema=Problem)
    for ns in api.namespaces:
        if not ns.resources:
            continue
        spec.tag({"name": ns.name, "description": ns.description})
        for route in ns.resources:
            for url in route.urls:
                path = extract_path(ns.path + url)
                item: dict[str, Any] = {}
                path_params = _path_parameters(spec, plugin, app, route.resource, [url])
                if path_params:
                    item["parameters"] = path_params
                for method, op in operations(route.resource).items():
                    view = getattr(route.resource, method)
                    item[method] = _operation(
                        spec, plugin, app, ns.name, api.prefix + path, method, route.resource, view, op
                    )
                spec.path(path=path, **_path_kwargs(item))
    document = copy.deepcopy(spec.to_dict())
    # "default: null" makes openapi-typescript type the field as required; absent means null anyway.
    return _drop_null_defaults(document)


def _path_kwargs(item: dict) -> dict:
    params = item.pop("parameters", None)
    return {"operations": item, "parameters": params}
