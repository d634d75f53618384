"""Key-value schemas (the ``redis`` namespace): KeyPut in, KeyOut and PingOut out, KeyPath for the URL."""

from marshmallow import RAISE, Schema, fields
from marshmallow.validate import Range

from api.schemas.fields import StrictInteger, Text
from services.keyvalue import KEY_RULE, TTL_MAX, VALUE_MAX_BYTES


class KeyPut(Schema):
    """The value to store under a key, and its optional time to live."""

    class Meta:
        unknown = RAISE

    value = Text(
        required=True,
        metadata={"description": f"Any string, up to {VALUE_MAX_BYTES} bytes of UTF-8", "example": "1233"},
    )
    ttl = StrictInteger(
        allow_none=True,
        load_default=None,
        validate=Range(min=1, max=TTL_MAX),
        metadata={"description": f"Seconds to live, 1-{TTL_MAX}; absent or null: never expires"},
    )


class KeyPath(Schema):
    key = fields.String(metadata={"description": f"{KEY_RULE}; percent-encode spaces, '/' and non-ASCII"})


class KeyOut(Schema):
    """A stored key."""

    key = fields.String(required=True, metadata={"description": KEY_RULE, "example": "k"})
    value = fields.String(required=True, metadata={"example": "1233"})
    ttl = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Seconds left; null: never expires"}
    )


class PingOut(Schema):
    """Redis answered a PING."""

    latency_ms = fields.Float(required=True, metadata={"description": "Round trip in milliseconds"})


key_put = KeyPut()
key_out = KeyOut()
ping_out = PingOut()
