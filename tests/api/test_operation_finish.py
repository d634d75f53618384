"""Operation.finish in the app: a view's result dumped with its status's schema into the
JSON response RESTX's output_json would make, and what is already a response passed through."""

import pytest
from flask import Response
from flask_restx.representations import output_json
from marshmallow import Schema, fields

from api.contract.operations import OPERATION_ATTR, Dumped, errors, returns


class ThingOut(Schema):
    name = fields.String()
    secret = fields.String(load_only=True)


def view(self):
    """Make a thing."""


def test_finish_dumps_with_the_schema_of_the_returned_status(app_ctx):
    op = getattr(returns(201, ThingOut)(returns(200, ThingOut)(view)), OPERATION_ATTR)
    response = op.finish(({"name": "ä", "secret": "s"}, 201, {"X": "1"}))
    assert (response.status_code, response.headers["X"]) == (201, "1")
    assert response.content_type == "application/json"
    assert response.get_data() == output_json({"name": "ä"}, 201).get_data() == '{"name":"ä"}\n'.encode()
    with pytest.raises(TypeError, match="must return its status"):
        op.finish({"name": "a"})


def test_finish_passes_dumped_bodies_and_responses_through(app_ctx):
    op = getattr(returns(200, ThingOut)(returns(204)(errors(404)(view))), OPERATION_ATTR)
    assert op.finish((Dumped({"raw": 1}), 200)).get_json() == {"raw": 1}
    assert op.finish((None, 204)) == ("", 204, None)
    response = Response(b"{}")
    assert op.finish(response) is response
