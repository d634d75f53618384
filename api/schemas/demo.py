"""Schemas of the ``exceptions`` and ``demo`` namespaces."""

from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, fields
from marshmallow.validate import Length, OneOf
from werkzeug.exceptions import default_exceptions

from api.schemas.fields import QueryInteger, Upload
from settings.declaration import BY_KEY

USER_ID_MAX_LENGTH = 200
_STR_LISTS: dict[str, Any] = {"keys": fields.String(), "values": fields.List(fields.String())}


# Werkzeug's error classes, 4xx and 5xx: the codes abort() can raise.
ABORT_CODES = sorted(code for code in default_exceptions if 400 <= code <= 599)


class AbortPath(Schema):
    code = fields.Integer(
        validate=OneOf(ABORT_CODES),
        metadata={"description": f"An HTTP error status Werkzeug knows: {', '.join(map(str, ABORT_CODES))}"},
    )


class UserPath(Schema):
    # A bound the demo sets: even percent-encoded, such a segment fits gunicorn's request line.
    user_id = fields.String(
        validate=Length(max=USER_ID_MAX_LENGTH),
        metadata={"description": "Any path segment; the string converter passes it as a string"},
    )


class IndexPath(Schema):
    index_id = fields.Integer(
        # Documented as the converter's string of three digits (api.contract.openapi).
        metadata={"description": "Exactly three digits (custom regex converter)", "maxLength": 3}
    )


class DivideQuery(Schema):
    class Meta:
        unknown = RAISE

    # Integers (64-bit): every quotient is a finite double, so only b=0 is refused. The service
    # refuses it (the demo of a domain error); "not" states it (OpenAPI 3.1 only).
    a = QueryInteger(required=True, metadata={"description": "Dividend", "example": 7})
    b = QueryInteger(
        required=True,
        metadata={"description": "Divisor; 0 gives a 400 problem", "example": 2, "not": {"const": 0}},
    )


class DivideOut(Schema):
    result = fields.Float(required=True, metadata={"description": "a / b"})


class UserIdOut(Schema):
    id = fields.String(required=True, metadata={"description": "The path segment, as a string"})


class IndexIdOut(Schema):
    id = fields.Integer(required=True, metadata={"description": "The three digits, as an integer"})


class EchoForm(Schema):
    """Any form fields and files; two shown as examples."""

    class Meta:
        unknown = INCLUDE

    text = fields.String(
        metadata={
            "description": "A form field (any name works)",
            "example": "hello",
            "maxLength": BY_KEY["MAX_CONTENT_LENGTH"].default,  # no larger body is read
        }
    )
    file = Upload(metadata={"description": "A file (any field name works); only its size is echoed"})


class EchoFile(Schema):
    field = fields.String(required=True, metadata={"description": "Form field name"})
    filename = fields.String(allow_none=True)
    size = fields.Integer(required=True, metadata={"description": "Bytes; the content is never echoed"})
    content_type = fields.String(allow_none=True)


class EchoOut(Schema):
    method = fields.String(required=True)
    path = fields.String(required=True)
    remote_addr = fields.String(
        allow_none=True, metadata={"description": "Client address; X-Forwarded-For only with TRUSTED_PROXIES"}
    )
    args = fields.Dict(**_STR_LISTS, metadata={"description": "Query parameters"})
    form = fields.Dict(**_STR_LISTS, metadata={"description": "Form fields"})
    json = fields.Raw(allow_none=True, metadata={"description": "The JSON body, if the request had one"})
    files = fields.List(fields.Nested(EchoFile))
    cookies = fields.Dict(keys=fields.String(), values=fields.String())
    headers = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Request headers without Authorization, Cookie and X-API-Key"},
    )


class ContextOut(Schema):
    app = fields.String(required=True, metadata={"description": "current_app.name (application context)"})
    environment = fields.String(required=True, metadata={"description": "The config's ENV_NAME"})
    request_id = fields.String(required=True, metadata={"description": "g.request_id (set per request)"})
    method = fields.String(required=True, metadata={"description": "request.method (request context)"})
    pid = fields.Integer(required=True, metadata={"description": "The serving worker process"})
