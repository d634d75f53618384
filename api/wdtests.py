"""Namespace ``wdtests``: CRUD over Wdtest records with filters, sort and pagination."""

from flask import url_for
from flask_restx import Namespace, Resource

from api.operations import Dumped, body, errors, path, query, returns
from api.pagination import pagination_headers
from api.rendered import Dumper, JSONRenderer, json_response
from api.schemas.wdtests import (
    WdtestCreate,
    WdtestOut,
    WdtestPage,
    WdtestPath,
    WdtestQuery,
    WdtestUpdate,
    wdtest_out,
    wdtest_page,
)
from services import wdtests

ns = Namespace("wdtests", description="Wdtest records (id, name, age)", path="/wdtests")
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
    @returns(200, WdtestPage, "One page of records", headers={**LIST_HEADERS, **CACHE_HEADERS})
    @query(WdtestQuery)
    @errors(503)
    def get(self, query):
        """List records: filters (ANDed), sort and pagination."""
        page, hit = wdtests.get_all_cached(
            dump=dump_page,
            page=query.pop("page"),
            per_page=query.pop("per_page"),
            sort=query.pop("sort"),
            filters=query,
        )
        return Dumped(page), 200, {**pagination_headers(page), "X-Cache": "HIT" if hit else "MISS"}

    @returns(201, WdtestOut, "Created", headers={"Location": {"type": "string"}})
    @body(WdtestCreate)
    @errors(401, 409, 503)
    def post(self, body):
        """Create a record; the id is generated when absent."""
        record = wdtests.create(data=body)
        return record, 201, {"Location": url_for("wdtest_item", wdtest_id=record.id, _external=True)}


@ns.route("/<string:wdtest_id>", endpoint="wdtest_item")
@path(WdtestPath)
class WdtestItem(Resource):
    @returns(200, WdtestOut, "The record", headers=CACHE_HEADERS)
    @errors(404, 503)
    def get(self, wdtest_id):
        """Get one record (read through the Redis cache)."""
        rendered, hit = wdtests.get_rendered(wdtest_id=wdtest_id, render=render_wdtest)
        return json_response(rendered, {"X-Cache": "HIT" if hit else "MISS"})

    @returns(200, WdtestOut, "The replaced record")
    @body(WdtestCreate)
    @errors(401, 404, 503)
    def put(self, wdtest_id, body):
        """Replace name and age (an absent age becomes null)."""
        return wdtests.update(wdtest_id=wdtest_id, changes=body)

    @returns(200, WdtestOut, "The updated record")
    @body(WdtestUpdate)
    @errors(401, 404, 503)
    def patch(self, wdtest_id, body):
        """Change some fields; absent fields keep their value."""
        return wdtests.update(wdtest_id=wdtest_id, changes=body)

    @returns(204, description="Deleted")
    @errors(401, 404, 503)
    def delete(self, wdtest_id):
        """Delete a record."""
        wdtests.delete(wdtest_id=wdtest_id)
