"""HTTP headers for a page of results: ``X-Total-Count`` and an RFC 8288 ``Link``."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request
from flask_sqlalchemy.pagination import Pagination


def page_url(page: int) -> str:
    args = request.args.to_dict()
    args["page"] = page
    return f"{request.base_url}?{urlencode(args)}"


def pagination_headers(pagination: Pagination) -> dict[str, str]:
    last = max(pagination.pages, 1)
    links = {"first": 1, "last": last}
    if pagination.page > 1:
        links["prev"] = min(pagination.page - 1, last)
    if pagination.page < last:
        links["next"] = pagination.page + 1
    return {
        "X-Total-Count": str(pagination.total),
        "Link": ", ".join(f'<{page_url(page)}>; rel="{rel}"' for rel, page in links.items()),
    }
