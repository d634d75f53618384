"""The operation decorators: what they record and how they dump (no app)."""

import pytest
from flask import Response
from marshmallow import Schema, fields

from api import DEMO_NAMESPACES, NAMESPACES
from api.contract.operations import (
    OPERATION_ATTR,
    PATH_ATTR,
    Dumped,
    body,
    errors,
    operations,
    path,
    query,
    returns,
)


class ThingIn(Schema):
    name = fields.String(required=True)


class ThingOut(Schema):
    name = fields.String()
    secret = fields.String(load_only=True)


class ThingQuery(Schema):
    page = fields.Integer()


class ThingPath(Schema):
    thing_id = fields.String(metadata={"description": "The thing"})


def view(self, thing_id, body):
    """Make a thing."""
    return {"name": body["name"], "secret": "s"}, 201


def test_decorators_record_one_operation_on_the_view():
    decorated = returns(201, ThingOut, "Created")(body(ThingIn)(errors(409)(view)))
    op = getattr(decorated, OPERATION_ATTR)
    assert type(op.body) is ThingIn and op.body_required
    assert [(r.code, type(r.schema), r.description) for r in op.responses.values()] == [
        (201, ThingOut, "Created")
    ]
    assert op.errors == [400, 409, 413, 415]  # the body's own statuses are derived
    assert decorated.__doc__ == "Make a thing."  # the docstring stays the operation summary


def test_query_adds_400_and_path_schema_reaches_every_operation():
    class Thing:
        methods = {"GET"}

        @returns(200, ThingOut)
        @query(ThingQuery)
        def get(self, thing_id, query): ...

    path(ThingPath)(Thing)
    op = operations(Thing)["get"]
    assert op.errors == [400] and type(op.path) is ThingPath
    assert type(getattr(Thing, PATH_ATTR)) is ThingPath


def test_finish_dumps_with_the_schema_of_the_returned_status():
    op = getattr(returns(201, ThingOut)(returns(200, ThingOut)(view)), OPERATION_ATTR)
    assert op.finish(({"name": "a", "secret": "s"}, 201, {"X": "1"})) == ({"name": "a"}, 201, {"X": "1"})
    with pytest.raises(TypeError, match="must return its status"):
        op.finish({"name": "a"})


def test_finish_passes_dumped_bodies_and_responses_through():
    op = getattr(returns(200, ThingOut)(returns(204)(errors(404)(view))), OPERATION_ATTR)
    assert op.finish((Dumped({"raw": 1}), 200)) == ({"raw": 1}, 200, None)
    assert op.finish((None, 204)) == ("", 204, None)
    response = Response(b"{}")
    assert op.finish(response) is response


def test_every_resource_method_of_the_api_is_a_declared_operation():
    for ns in NAMESPACES + DEMO_NAMESPACES:
        for route in ns.resources:
            methods = {m.lower() for m in route.resource.methods}
            assert set(operations(route.resource)) == methods, route.resource
