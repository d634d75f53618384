"""Namespace ``wdtests``: CRUD over Wdtest records with filters, sort and pagination."""

from flask import url_for
from flask_restx import Namespace, Resource

from api.openapi import error_responses, query_params, register_models
from api.pagination import pagination_headers
from api.parsing import load_body, load_query
from api.rendered import Dumper, JSONRenderer, json_response
from api.schemas.wdtests import (
    WdtestCreate,
    WdtestOut,
    WdtestPage,
    WdtestQuery,
    wdtest_create,
    wdtest_out,
    wdtest_page,
    wdtest_query,
    wdtest_update,
)
from services import wdtests

ns = Namespace("wdtests", description="Wdtest records (id, name, age)", path="/wdtests")
models = register_models(
    ns,
    {
        "WdtestCreate": WdtestCreate,
        "WdtestUpdate": wdtest_update,
        "WdtestOut": WdtestOut,
        "WdtestPage": WdtestPage,
    },
)
LIST_HEADERS = {
    "X-Total-Count": {"type": "integer", "description": "Records matching the filters"},
    "Link": {"type": "string", "description": "RFC 8288 links: first, prev, next, last"},
}
CACHE_HEADERS = {"X-Cache": {"type": "string", "enum": ["HIT", "MISS"], "description": "Served from Redis?"}}
# Built once: a cache hit sends these bytes back without touching marshmallow.
render_wdtest = JSONRenderer(wdtest_out)
dump_page = Dumper(wdtest_page)


@ns.route("", endpoint="wdtest_list")
class WdtestList(Resource):
    @ns.doc(params=query_params(WdtestQuery))
    @ns.response(200, "One page of records", models["WdtestPage"], headers={**LIST_HEADERS, **CACHE_HEADERS})
    @error_responses(ns, 400, 503)
    def get(self):
        """List records: filters (ANDed), sort and pagination."""
        args = load_query(wdtest_query)
        page, hit = wdtests.get_all_cached(
            dump=dump_page,
            page=args.pop("page"),
            per_page=args.pop("per_page"),
            sort=args.pop("sort"),
            filters=args,
        )
        return page, 200, {**pagination_headers(page), "X-Cache": "HIT" if hit else "MISS"}

    @ns.expect(models["WdtestCreate"])
    @ns.response(201, "Created", models["WdtestOut"], headers={"Location": {"type": "string"}})
    @error_responses(ns, 400, 409, 413, 415, 503)
    def post(self):
        """Create a record; the id is generated when absent."""
        record = wdtests.create(data=load_body(wdtest_create))
        location = url_for("wdtest_item", wdtest_id=record.id, _external=True)
        return wdtest_out.dump(record), 201, {"Location": location}


@ns.route("/<string:wdtest_id>", endpoint="wdtest_item")
@ns.param("wdtest_id", "The record id")
class WdtestItem(Resource):
    @ns.response(200, "The record", models["WdtestOut"], headers=CACHE_HEADERS)
    @error_responses(ns, 404, 503)
    def get(self, wdtest_id):
        """Get one record (read through the Redis cache)."""
        body, hit = wdtests.get_rendered(wdtest_id=wdtest_id, render=render_wdtest)
        return json_response(body, {"X-Cache": "HIT" if hit else "MISS"})

    @ns.expect(models["WdtestCreate"])
    @ns.response(200, "The replaced record", models["WdtestOut"])
    @error_responses(ns, 400, 404, 413, 415, 503)
    def put(self, wdtest_id):
        """Replace name and age (an absent age becomes null)."""
        changes = load_body(wdtest_create)
        return wdtest_out.dump(wdtests.update(wdtest_id=wdtest_id, changes=changes))

    @ns.expect(models["WdtestUpdate"])
    @ns.response(200, "The updated record", models["WdtestOut"])
    @error_responses(ns, 400, 404, 413, 415, 503)
    def patch(self, wdtest_id):
        """Change some fields; absent fields keep their value."""
        changes = load_body(wdtest_update)
        return wdtest_out.dump(wdtests.update(wdtest_id=wdtest_id, changes=changes))

    @ns.response(204, "Deleted")
    @error_responses(ns, 404, 503)
    def delete(self, wdtest_id):
        """Delete a record."""
        wdtests.delete(wdtest_id=wdtest_id)
        return "", 204
