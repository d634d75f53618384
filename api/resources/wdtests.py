"""Namespace ``wdtests``: CRUD over Wdtest records with filters, sort and pagination."""

from flask import url_for
from flask_restx import Namespace, Resource
from werkzeug.http import quote_etag

from api.contract.conditional import (
    ETAG_HEADER,
    NOT_MODIFIED,
    conditional,
    if_match,
    if_none_match,
    page_etag,
)
from api.contract.idempotency import idempotent
from api.contract.operations import body, errors, operation_id, path, query, returns
from api.contract.pagination import pagination_headers
from api.contract.rendered import JSONRenderer, json_response
from api.schemas.wdtests import (
    WdtestCreate,
    WdtestOut,
    WdtestPage,
    WdtestPath,
    WdtestQuery,
    WdtestReplace,
    WdtestUpdate,
    wdtest_out,
    wdtest_page,
)
from services import wdtests

ns = Namespace("wdtests", description="Wdtest records (id, name, age)", path="/wdtests")
LIST_HEADERS = {
    "X-Total-Count": {
        "type": "integer",
        "format": "int64",
        "description": "Records matching the filters (not with include_total=false)",
    },
    "Link": {"type": "string", "description": "RFC 8288 links: first, prev, next, last (as far as known)"},
}
CACHE_HEADERS = {"X-Cache": {"type": "string", "enum": ["HIT", "MISS"], "description": "Served from Redis?"}}
# Built once: a cache hit sends these bytes back without touching marshmallow.
render_wdtest = JSONRenderer(wdtest_out)
render_page = JSONRenderer(wdtest_page)


@ns.route("", endpoint="wdtest_list")
class WdtestList(Resource):
    @operation_id("list_wdtests")
    @returns(200, WdtestPage, "One page of records", headers={**LIST_HEADERS, **CACHE_HEADERS, **ETAG_HEADER})
    @returns(304, description=NOT_MODIFIED)
    @query(WdtestQuery)
    @if_none_match
    @errors(503)
    def get(self, query):
        """List records: filters (ANDed), sort and pagination; a weak ETag.

        Pages by number (`page`, `per_page`) or by cursor (`after`: the `next_cursor` of the
        previous page). `include_total=false` skips the count. The page is served from the
        Redis cache when it is there (`X-Cache`); `If-None-Match` with its ETag gets a 304.
        """
        rendered = wdtests.get_all_cached(
            render=render_page,
            page=query.pop("page"),
            per_page=query.pop("per_page"),
            sort=query.pop("sort", ()),  # absent: ordered by id
            include_total=query.pop("include_total"),
            after=query.pop("after", None),
            filters=query,
        )
        links = pagination_headers(render_page.dump(rendered.page))
        headers = {**links, "X-Cache": "HIT" if rendered.hit else "MISS"}
        return conditional(json_response(rendered.body, headers), page_etag(rendered.body), weak=True)

    @operation_id("create_wdtest")
    @idempotent
    @returns(201, WdtestOut, "Created", headers={"Location": {"type": "string"}, **ETAG_HEADER})
    @body(WdtestCreate)
    @errors(409, 503)
    def post(self, body):
        """Create a record; the id is generated when absent.

        Answers 201 with the record, its `Location` and its ETag; 409 when the id is taken.
        A retry with the same `Idempotency-Key` gets the first response back.
        """
        record = wdtests.create(data=body)
        location = url_for("wdtest_item", wdtest_id=record.id, _external=True)
        return record, 201, {"Location": location, "ETag": quote_etag(record.revision)}


@ns.route("/<string:wdtest_id>", endpoint="wdtest_item")
@path(WdtestPath)
class WdtestItem(Resource):
    @operation_id("get_wdtest")
    @returns(200, WdtestOut, "The record", headers={**CACHE_HEADERS, **ETAG_HEADER})
    @returns(304, description=NOT_MODIFIED)
    @if_none_match
    @errors(404, 503)
    def get(self, wdtest_id):
        """Get one record (read through the Redis cache).

        The response carries the record's strong ETag; `If-None-Match` with it gets a 304.
        """
        rendered = wdtests.get_rendered(wdtest_id=wdtest_id, render=render_wdtest)
        headers = {"X-Cache": "HIT" if rendered.hit else "MISS"}
        return conditional(json_response(rendered.body, headers), rendered.revision)

    @operation_id("replace_wdtest")
    @idempotent
    @returns(200, WdtestOut, "The replaced record", headers=ETAG_HEADER)
    @body(WdtestReplace)
    @if_match
    @errors(404, 503)
    def put(self, wdtest_id, body, expected):
        """Replace name and age (an absent age becomes null).

        With `If-Match`, the write happens only if the record is still at that ETag (else 412).
        """
        record = wdtests.update(wdtest_id=wdtest_id, changes=body, expected=expected)
        return record, 200, {"ETag": quote_etag(record.revision)}

    @operation_id("update_wdtest")
    @idempotent
    @returns(200, WdtestOut, "The updated record", headers=ETAG_HEADER)
    @body(WdtestUpdate)
    @if_match
    @errors(404, 503)
    def patch(self, wdtest_id, body, expected):
        """Change some fields; absent fields keep their value.

        With `If-Match`, the write happens only if the record is still at that ETag (else 412).
        """
        record = wdtests.update(wdtest_id=wdtest_id, changes=body, expected=expected)
        return record, 200, {"ETag": quote_etag(record.revision)}

    @operation_id("delete_wdtest")
    @idempotent
    @returns(204, description="Deleted")
    @if_match
    @errors(404, 503)
    def delete(self, wdtest_id, expected):
        """Delete a record.

        With `If-Match`, the record is deleted only if it is still at that ETag (else 412).
        """
        wdtests.delete(wdtest_id=wdtest_id, expected=expected)
