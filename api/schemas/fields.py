"""Custom marshmallow fields shared by the schemas."""

import base64
import binascii
import json
import math
import re

from marshmallow import ValidationError, fields
from marshmallow.validate import Range, Regexp

from settings.declaration import BY_KEY

_INTEGER = re.compile(r"-?[0-9]+")
# gunicorn refuses a longer request line (414): no path segment or query value is longer.
REQUEST_LINE_MAX = BY_KEY["GUNICORN_LIMIT_REQUEST_LINE"].default
# The widest integer every backend can bind (SQLite's INTEGER is 64-bit signed).
QUERY_INT_MIN, QUERY_INT_MAX = -(2**63), 2**63 - 1


class FullMatch(Regexp):
    """``Regexp`` over the whole value: ``re.match`` with ``$`` lets a trailing newline through."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class Text(fields.String):
    """A string that can be stored: lone surrogates (valid JSON, invalid UTF-8) are rejected."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("Not valid Unicode text.") from None
        return value


class StrictInteger(fields.Integer):
    """A JSON integer: rejects strings, fractions and booleans (``true`` is not 1). A number
    with a zero fraction (``3.0``) is an integer, as JSON Schema (2020-12) says."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class QueryInteger(fields.Integer):
    """An integer in a query string: ASCII digits only (``int()`` would take '1_0' or '١'),
    within 64 bits (a validator, so the documents state the bounds)."""

    def __init__(self, **kwargs):
        validate = kwargs.pop("validate", None)
        extra = [validate] if callable(validate) else list(validate or ())
        super().__init__(validate=[Range(min=QUERY_INT_MIN, max=QUERY_INT_MAX), *extra], **kwargs)

    def _validated(self, value):
        if isinstance(value, str) and not _INTEGER.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Upload(fields.Raw):
    """A file in a multipart form (documented as a file; werkzeug parses it)."""


class DelimitedList(fields.List):
    """A comma-separated list in one query parameter (``?age__in=1,2,3``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value.split(","), attr, data, **kwargs)


CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"  # unpadded url-safe base64


class Cursor(fields.Field):
    """An opaque position in a list: the service's ``[sort, key]`` as url-safe base64 of
    compact JSON. Clients pass back what they were given; anything else is invalid."""

    default_error_messages = {
        "invalid": "Not a valid cursor.",
        "too_long": f"Longer than {REQUEST_LINE_MAX} characters.",
    }

    def __init__(self, **kwargs):
        metadata = {
            "type": "string",
            "pattern": CURSOR_PATTERN,
            "maxLength": REQUEST_LINE_MAX,
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) > REQUEST_LINE_MAX:
            raise self.make_error("too_long")
        # b64decode skips characters outside the alphabet: check the documented form first.
        if not isinstance(value, str) or re.fullmatch(CURSOR_PATTERN, value) is None:
            raise self.make_error("invalid")
        try:
            decoded = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (TypeError, ValueError, binascii.Error, RecursionError):
            raise self.make_error("invalid") from None
        if not (
            isinstance(decoded, list)
            and len(decoded) == 2
            and all(isinstance(part, list) and all(isinstance(v, str) for v in part) for part in decoded)
        ):
            raise self.make_error("invalid")
        return decoded
