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
    # Optional (RFC 9457): gunicorn's and nginx's own answers (414, 431, 502...) come before
    # any path is known; every answer of the app carries it.
    instance = fields.String(
        metadata={
            "description": "The request path; absent when gunicorn or the proxy answered first",
            "example": "/api/v1/wdtests/x",
        }
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation errors: field or parameter -> messages"},
    )
