"""RFC 9457 problem details: the body of every error response."""

from marshmallow import INCLUDE, Schema, fields


class Problem(Schema):
    class Meta:
        unknown = INCLUDE  # RFC 9457 allows extension members

    type = fields.String(
        required=True, metadata={"description": "URI of the problem type", "example": "about:blank"}
    )
    title = fields.String(
        required=True, metadata={"description": "Short summary of the status", "example": "Not Found"}
    )
    status = fields.Integer(required=True, metadata={"description": "The HTTP status code", "example": 404})
    detail = fields.String(
        required=True, metadata={"description": "What went wrong, for a human", "example": "No record 'x'."}
    )
    instance = fields.String(
        required=True, metadata={"description": "The request path", "example": "/api/v1/wdtests/x"}
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation errors: field or parameter -> messages"},
    )
