"""Load request input through marshmallow schemas; failures become 400 problems."""

from __future__ import annotations

import re

from flask import Request, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from api.schemas.fields import DelimitedList
from core.context import request_object
from core.errors import InvalidInput


class APIRequest(Request):
    @property
    def max_content_length(self) -> int | None:
        """Flask's (MAX_CONTENT_LENGTH, unless set on this request), read from the config
        once: Flask reads it through two context proxies each time, two to four times a body."""
        limit = self._max_content_length
        if limit is None:
            limit = self._max_content_length = super().max_content_length
        return limit

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def get_data(self, cache=True, as_text=False, parse_form_data=False):
        data = super().get_data(cache=cache, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if self.content_length is None and limit is not None and len(data) >= limit:
            # Without a Content-Length (chunked), werkzeug stops at the limit and returns
            # what it read: one byte more means the body was too large, not truncated JSON.
            if self.environ["wsgi.input"].read(1):
                raise RequestEntityTooLarge()
        return data.decode(errors="replace") if as_text else data

    def get_json(self, *args, **kwargs):
        try:
            return super().get_json(*args, **kwargs)
        except RecursionError:
            # json raises this, not ValueError, for deeply nested input.
            raise BadRequest("The request body is nested too deeply.") from None

    def on_json_loading_failed(self, e):
        if e is None:
            return super().on_json_loading_failed(e)  # 415: not a JSON content type
        raise BadRequest(f"The request body is not valid JSON: {e}")


def _flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    # marshmallow nests list-item errors ({"age__in": {1: [...]}}); clients get "age__in.1".
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _invalid(where: str, err: ValidationError) -> InvalidInput:
    messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
    return InvalidInput(f"Invalid {where}: {', '.join(map(str, messages))}.", _flatten(messages))


def _load_body(schema: Schema, data) -> dict:
    try:
        return schema.load(data)
    except ValidationError as err:
        raise _invalid("request body", err) from None


def load_body(schema: Schema) -> dict:
    """The JSON body loaded by ``schema``. Flask answers 415 for a non-JSON
    content type and 400 for malformed JSON before we get here."""
    return _load_body(schema, request.get_json())


def load_optional_body(schema: Schema) -> dict:
    """Like ``load_body``, but an empty body (with any content type or none) loads as ``{}``."""
    return _load_body(schema, request.get_json() if request.get_data(cache=True) else {})


def load_query(schema: Schema) -> dict:
    """The query string loaded by ``schema``. A list parameter may be repeated (what
    generated clients send by default): ``sort=a&sort=b`` is ``sort=a,b``. Any other
    repeated parameter is an error, never silently reduced to one of its values."""
    args, repeated = {}, []
    for key, values in request.args.lists():
        if len(values) > 1 and not isinstance(schema.fields.get(key), DelimitedList):
            repeated.append(key)
        args[key] = ",".join(values)
    if repeated:
        messages = {key: ["Given more than once."] for key in repeated}
        raise _invalid("query parameters", ValidationError(messages))
    try:
        return schema.load(args)
    except ValidationError as err:
        raise _invalid("query parameters", err) from None


def check_header(name: str, max_length: int, pattern: str | None = None) -> None:
    """A request header, when sent, must keep to ``max_length`` and match ``pattern`` (both
    documented in the spec)."""
    value = request_object().headers.get(name)
    if value is None:
        return
    message = None
    if len(value) > max_length:
        message = f"Longer than {max_length} characters."
    elif pattern is not None and re.fullmatch(pattern, value) is None:
        message = "Does not match the documented pattern."
    if message is not None:
        raise InvalidInput(f"Invalid {name} header: {message}", {name: [message]})


def check_path(schema: Schema, values: dict) -> None:
    """Path values the URL converters passed, checked by ``schema``'s validators: a value
    that breaks a documented rule is a 400, not a 404."""
    # Field by field: a path schema holds fields only (a schema-level load was 3 % of a read).
    messages = {}
    for name, field in schema.fields.items():
        if name in values:
            try:
                field.deserialize(values[name])
            except ValidationError as err:
                messages[name] = err.messages
    if messages:
        raise _invalid("path parameters", ValidationError(messages))
