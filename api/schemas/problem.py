"""RFC 9457 problem details: the body of every error response."""

from marshmallow import INCLUDE, Schema, fields


class Problem(Schema):
    class Meta:
        unknown = INCLUDE  # RFC 9457 allows extension members

    type = fields.String(
        required=True, metadata={"description": "URI of the problem type", "example": "about:blank"}
    )
    title = fields.String(required=True, metadata={"description": "Short summary of the status"})
    status = fields.Integer(required=True, metadata={"description": "The HTTP status code"})
    detail = fields.String(required=True, metadata={"description": "What went wrong, for a human"})
    instance = fields.String(required=True, metadata={"description": "The request path"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation errors: field or parameter -> messages"},
    )
