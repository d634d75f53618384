"""Bind schemas to operations once: each decorator both declares and acts.

In the shape of flask-smorest's ``@blp.arguments``/``@blp.response`` and APIFlask's
``@input``/``@output``::

    @ns.route("/<string:wdtest_id>", endpoint="wdtest_item")
    @path(WdtestPath)
    class WdtestItem(Resource):
        @operation_id("update_wdtest")
        @returns(200, WdtestOut, "The updated record")
        @body(WdtestUpdate)
        @errors(404, 503)
        def patch(self, wdtest_id, body):
            return wdtests.update(wdtest_id=wdtest_id, changes=body)

``@body``/``@query`` load the input with their schema and pass it as the keyword
``body``/``query``; ``@returns`` dumps what the view returns with the schema declared
for its status. Everything is recorded on the view function as an ``Operation`` in
``OPERATION_ATTR`` (and path parameters on the resource class in ``PATH_ATTR``);
``api.contract.openapi`` builds both documents from these records and the settings, so the docs and
the behaviour come from the same objects.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Response
from marshmallow import Schema

from api.contract.dumping import Dump, dumper
from api.contract.parsing import check_header, check_path, load_body, load_optional_body, load_query
from api.contract.rendered import render_json
from core.context import app_object

OPERATION_ATTR = "__operation__"
PATH_ATTR = "__path_schema__"
# Added to the declared errors: what loading a query or a body can answer by itself.
QUERY_ERRORS = PATH_ERRORS = frozenset({400})
BODY_ERRORS = frozenset({400, 413, 415})  # invalid, too large, not JSON

SchemaLike = Schema | type[Schema]

# The services' verbs (and the demos'): an operationId is one of them, "_", then its object.
VERBS = frozenset(
    {"list", "get", "create", "replace", "update", "delete", "put", "declare", "publish", "take", "ping"}
    | {"divide", "abort", "raise", "echo"}
)
OPERATION_ID = re.compile(r"([a-z]+)_[a-z0-9]+(_[a-z0-9]+)*")


def header_max_length(name: str, config: Mapping[str, Any], cap: int | None = None) -> int:
    """The longest value of header ``name`` gunicorn lets through under ``config`` (it refuses
    a longer header line, CRLF included, with 431), or ``cap`` when that is shorter."""
    longest = config["GUNICORN_LIMIT_REQUEST_FIELD_SIZE"] - len(name) - len(": ") - len("\r\n")
    return longest if cap is None else min(longest, cap)


def schema_instance(schema: SchemaLike) -> Schema:
    return schema() if isinstance(schema, type) else schema


def schema_name(schema: SchemaLike) -> str:
    """The model name: the schema's class name (``WdtestOut``)."""
    return (schema if isinstance(schema, type) else type(schema)).__name__


@dataclass(frozen=True)
class Success:
    """A success response: its status, body schema (None: no body), description and headers
    (name -> JSON Schema of the value, plus an optional ``description``)."""

    code: int
    schema: Schema | None
    description: str
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    dump: Dump | None = None  # ``schema.dump``, compiled (api.contract.dumping)


@dataclass
class Operation:
    """What one view function accepts and answers; read by ``api.contract.openapi``."""

    operation_id: str | None = None  # set by ``@operation_id``; the documents require one
    body: Schema | None = None
    body_required: bool = True
    form: Schema | None = None  # form fields and files, documented by ``@form``
    form_json: bool = False  # ``@form(json=True)``: any JSON body is accepted as well
    query: Schema | None = None
    path: Schema | None = None  # set by ``@path`` on the resource class
    # In the order the decorators apply (bottom-up), as Flask-RESTX documents them.
    responses: dict[int, Success] = field(default_factory=dict)
    declared_errors: set[int] = field(default_factory=set)
    # Request headers: name -> (description, JSON Schema of the value; its pattern is checked
    # before the view runs); and keyword arguments read from them at call time.
    headers: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    arguments: dict[str, Callable[[], Any]] = field(default_factory=dict)

    @property
    def path_checked(self) -> bool:
        """Whether a path value can break a rule of the path schema (then it is a 400)."""
        return self.path is not None and any(f.validators for f in self.path.fields.values())

    @property
    def errors(self) -> list[int]:
        """Every error status: the declared ones and those input loading can answer."""
        codes = set(self.declared_errors)
        if self.path_checked:
            codes |= PATH_ERRORS
        if self.query is not None:
            codes |= QUERY_ERRORS
        if self.body is not None:
            codes |= BODY_ERRORS
        return sorted(codes)

    def finish(self, result: Any) -> Any:
        """Dump a view's result with the schema declared for its status."""
        if isinstance(result, Response):
            return result  # pre-rendered (e.g. cached bytes): sent untouched
        obj, code, headers = _unpack(result)
        if code is None:
            if len(self.responses) != 1:
                raise TypeError("a view with several success responses must return its status")
            code = next(iter(self.responses))
        success = self.responses[code]
        if success.schema is None:
            return "", code, headers
        data = obj.data if isinstance(obj, Dumped) else (success.dump or success.schema.dump)(obj)
        # The bytes and Content-Type RESTX's output_json would send, without its two parses of
        # Accept (every answer is JSON) and its representation lookups.
        return app_object().response_class(render_json(data), code, headers, mimetype="application/json")


@dataclass(frozen=True)
class Dumped:
    """A body already dumped with the operation's schema (e.g. a cached page): not dumped again."""

    data: Any


def _unpack(result: Any) -> tuple[Any, int | None, dict | None]:
    if not isinstance(result, tuple):
        return result, None, None
    obj, code, *rest = result
    return obj, code, rest[0] if rest else None


def _operation(view: Callable) -> tuple[Callable, Operation]:
    """The view's wrapper and its Operation, created on the first decorator applied."""
    op = getattr(view, OPERATION_ATTR, None)
    if op is not None:
        return view, op
    op = Operation()

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if op.path is not None and op.path_checked:
            check_path(op.path, kwargs)
        for name, (_, value_schema) in op.headers.items():
            longest = header_max_length(name, app_object().config, value_schema.get("maxLength"))
            check_header(name, longest, value_schema.get("pattern"))
        if op.query is not None:
            kwargs["query"] = load_query(op.query)
        if op.body is not None:
            kwargs["body"] = (load_body if op.body_required else load_optional_body)(op.body)
        for name, load in op.arguments.items():
            kwargs[name] = load()
        return op.finish(view(*args, **kwargs))

    setattr(wrapper, OPERATION_ATTR, op)
    return wrapper, op


def operation_id(name: str):
    """The operation's id in the documents (and so the generated clients' method name): a verb
    of ``VERBS``, then what it acts on (``list_wdtests``)."""
    match = OPERATION_ID.fullmatch(name)
    if match is None or match.group(1) not in VERBS:
        raise ValueError(f"operationId {name!r} is not <verb>_<object> with a verb of {sorted(VERBS)}")

    def decorate(view):
        wrapper, op = _operation(view)
        op.operation_id = name
        return wrapper

    return decorate


def body(schema: SchemaLike, *, required: bool = True):
    """Load the JSON body with ``schema`` into the keyword ``body``; ``required=False``:
    an empty body loads as ``{}``."""

    def decorate(view):
        wrapper, op = _operation(view)
        op.body, op.body_required = schema_instance(schema), required
        return wrapper

    return decorate


def form(schema: SchemaLike, *, json: bool = False):
    """Document form fields and files (multipart or urlencoded), and with ``json=True`` any
    JSON body too. The view reads ``request.form``/``request.files`` itself: only a view
    that shows what it was sent (``/demo/echo``) accepts a form."""

    def decorate(view):
        wrapper, op = _operation(view)
        op.form, op.form_json = schema_instance(schema), json
        return wrapper

    return decorate


def query(schema: SchemaLike):
    """Load the query string with ``schema`` into the keyword ``query``."""

    def decorate(view):
        wrapper, op = _operation(view)
        op.query = schema_instance(schema)
        return wrapper

    return decorate


def returns(code: int, schema: SchemaLike | None = None, description: str = "", *, headers=None):
    """A success response: the view's result for ``code`` is dumped with ``schema``
    (no schema: an empty body). Stack one per success status."""

    def decorate(view):
        wrapper, op = _operation(view)
        instance = schema_instance(schema) if schema is not None else None
        dump = dumper(instance) if instance is not None else None
        op.responses[code] = Success(code, instance, description, dict(headers or {}), dump)
        return wrapper

    return decorate


def errors(*codes: int):
    """Error statuses (problem+json) the operation answers beyond those of its input
    (401 is added where the settings make the operation need an API key)."""

    def decorate(view):
        wrapper, op = _operation(view)
        op.declared_errors.update(codes)
        return wrapper

    return decorate


def header(
    name: str,
    description: str,
    *,
    pattern: str | None = None,
    max_length: int | None = None,
    example: str | None = None,
    into: str | None = None,
    load: Callable[[], Any] | None = None,
    errors: tuple[int, ...] = (),
):
    """A request header the operation reads: documented; a value longer than gunicorn lets
    through (or than ``max_length``) or that does not match ``pattern`` (a full match) is a 400;
    ``example``: a value that matches. With ``into``,
    ``load()`` (which reads the header) is passed as that keyword. ``errors``: what reading
    it can answer."""

    def decorate(view):
        wrapper, op = _operation(view)
        # maxLength: ``max_length`` here; the documents and the check add gunicorn's bound.
        value_schema: dict[str, Any] = {"type": "string"}
        if max_length is not None:
            value_schema["maxLength"] = max_length
        if pattern is not None:
            value_schema["pattern"] = pattern
        if example is not None:
            value_schema["example"] = example
        op.headers[name] = (description, value_schema)
        op.declared_errors.update({*errors, 400})
        if into is not None and load is not None:
            op.arguments[into] = load
        return wrapper

    return decorate


def around(wrap: Callable[[Callable], Callable]):
    """Wrap the whole operation (input loading and dumping included) in ``wrap(view)``: for
    behaviour that needs the finished response. Keeps the operation's record."""

    def decorate(view):
        wrapper, op = _operation(view)
        wrapped = functools.wraps(wrapper)(wrap(wrapper))
        setattr(wrapped, OPERATION_ATTR, op)
        return wrapped

    return decorate


def path(schema: SchemaLike):
    """Class decorator: ``schema``'s fields describe the route's path parameters, one per
    URL variable (the URL converter does the parsing; ``api.contract.openapi`` checks the names);
    their validators check each value (400)."""

    def decorate(resource):
        instance = schema_instance(schema)
        # Path values are checked field by field (api.contract.parsing.check_path).
        if any(instance._hooks.values()):
            raise TypeError(f"{type(instance).__name__}: a path schema holds fields only, no hooks")
        setattr(resource, PATH_ATTR, instance)
        for op in operations(resource).values():
            op.path = instance
        return resource

    return decorate


def operations(resource) -> dict[str, Operation]:
    """The resource's operations by lower-case method name."""
    found = {}
    for method in resource.methods or ():
        op = getattr(getattr(resource, method.lower()), OPERATION_ATTR, None)
        if op is not None:
            found[method.lower()] = op
    return found
