"""Conditional requests (RFC 9110 §13): ETags from record revisions, If-None-Match, If-Match.

werkzeug parses the headers and answers ``If-None-Match`` (``make_conditional``); this
module only says which tag a response carries and which revisions a write may change.
"""

from __future__ import annotations

import hashlib

from flask import Response, current_app, request
from werkzeug.exceptions import PreconditionRequired

from api.contract.operations import header
from core.context import request_object
from services import wdtests

ETAG_HEADER = {"ETag": {"type": "string", "description": "The representation's entity tag (RFC 9110)"}}
NOT_MODIFIED = "Not Modified: If-None-Match matched the ETag (no body)"

# Decorators for operations: documented with the operation, read when it runs.
if_none_match = header(
    "If-None-Match", "ETags from earlier responses: 304 Not Modified without a body if one still matches"
)


def page_etag(body: bytes) -> str:
    """A weak ETag for a rendered list page: a digest of its bytes, so it changes exactly
    when a write made the cached page stale (the list cache generation) and the page differs."""
    return hashlib.sha256(body).hexdigest()[:32]


def conditional(response: Response, etag: str, *, weak: bool = False) -> Response:
    """``response`` with its ETag; 304 without a body when If-None-Match matches it."""
    response.set_etag(etag, weak=weak)
    req = request_object()
    environ = req.environ
    # Only these change a GET's answer here (If-Match: 412 when none matches).
    if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MATCH" in environ:
        response.make_conditional(req)  # in place: 304 (412) and no body when it matches
        # werkzeug adds a Date; the server (gunicorn, werkzeug's) sends its own: one only.
        response.headers.remove("Date")
    return response


def _expected_revisions() -> list[str] | None:
    """The revisions a write's If-Match allows (None: any). Raises 428 when If-Match is
    missing and REQUIRE_IF_MATCH is set. If-Match compares strongly: weak tags never match."""
    if "If-Match" not in request.headers:
        if current_app.config["REQUIRE_IF_MATCH"]:
            raise PreconditionRequired("This server requires If-Match with the record's ETag on writes.")
        return None
    if request.if_match.star_tag:
        return [wdtests.ANY_REVISION]  # "*": any current representation, 412 when there is none
    # werkzeug parses an empty tag ("") as None, which no revision matches.
    return sorted(tag for tag in request.if_match.as_set(include_weak=False) if tag is not None)


# RFC 9110 §13.1.1: "*" or a comma list of entity tags (visible ASCII inside the quotes); as
# werkzeug, a tag without its quotes is taken too (then it simply matches no revision). A bare
# tag holds no "/", so "W/x" parses one way only: with it, a long list of them that fails at
# its end backtracked exponentially (a 60-byte header took seconds).
ENTITY_TAG = r'(W/)?("[!#-~]*"|[!#-+\-.0-~]+)'
IF_MATCH_PATTERN = rf"^{ENTITY_TAG}([ \t]*,[ \t]*{ENTITY_TAG})*$"

if_match = header(
    "If-Match",
    "The record's ETag: the write happens only if the record is still at it, else 412. "
    "Required (else 428) when the server sets REQUIRE_IF_MATCH. Not '*' or entity tags: 400.",
    pattern=IF_MATCH_PATTERN,
    example='"1-5f2b8c9d0e1a"',
    into="expected",
    load=_expected_revisions,
    errors=(412, 428),
)
