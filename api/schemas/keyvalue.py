"""Key-value schemas (the ``redis`` namespace): KeyPut in, KeyOut and PingOut out, KeyPath for the URL."""

from marshmallow import RAISE, Schema, fields
from marshmallow.validate import Length, Range

from api.schemas.fields import FullMatch, StrictInteger, Text
from services.keyvalue import KEY_MAX_LENGTH, KEY_PATTERN, KEY_RULE, TTL_MAX, VALUE_MAX_BYTES

# The service's own rule: the documents derive length and pattern from these validators.
KEY_VALIDATORS = [Length(min=1, max=KEY_MAX_LENGTH), FullMatch(KEY_PATTERN)]


class KeyPut(Schema):
    """The value to store under a key, and its optional time to live."""

    class Meta:
        unknown = RAISE

    value = Text(
        required=True,
        metadata={
            "description": f"Any string, up to {VALUE_MAX_BYTES} bytes of UTF-8 (more: 413; maxLength "
            "counts characters, so fewer characters in more bytes are refused too)",
            "example": "1233",
            "maxLength": VALUE_MAX_BYTES,  # the cap itself (services.keyvalue), 413 past it
        },
    )
    ttl = StrictInteger(
        allow_none=True,
        load_default=None,
        validate=Range(min=1, max=TTL_MAX),
        metadata={"description": f"Seconds to live, 1-{TTL_MAX}; absent or null: never expires"},
    )


class KeyPath(Schema):
    key = fields.String(
        validate=KEY_VALIDATORS,
        metadata={"description": f"{KEY_RULE}; percent-encode spaces and non-ASCII", "example": "user:1"},
    )


class KeyOut(Schema):
    """A stored key."""

    key = fields.String(
        required=True, validate=KEY_VALIDATORS, metadata={"description": KEY_RULE, "example": "user:1"}
    )
    value = fields.String(required=True, metadata={"example": "1233"})
    ttl = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Seconds left; null: never expires", "example": 3600},
    )


class PingOut(Schema):
    """Redis answered a PING."""

    latency_ms = fields.Float(
        required=True, metadata={"description": "Round trip in milliseconds", "example": 0.42}
    )
