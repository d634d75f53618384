"""The operation decorators: what they record and how they dump (no app)."""

from marshmallow import Schema, fields

from api import DEMO_NAMESPACES, NAMESPACES
from api.contract.operations import (
    OPERATION_ATTR,
    PATH_ATTR,
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


def test_every_resource_method_of_the_api_is_a_declared_operation():
    for ns in NAMESPACES + DEMO_NAMESPACES:
        for route in ns.resources:
            methods = {m.lower() for m in route.resource.methods}
            assert set(operations(route.resource)) == methods, route.resource
