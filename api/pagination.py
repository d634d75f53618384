"""HTTP headers for a page of results: ``X-Total-Count`` and an RFC 8288 ``Link``."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from flask import request


def page_url(page: int) -> str:
    args: dict[str, object] = dict(request.args.to_dict())
    args["page"] = page
    return f"{request.base_url}?{urlencode(args)}"


def pagination_headers(page: Mapping) -> dict[str, str]:
    """Headers for a dumped page (``page``, ``pages``, ``total``)."""
    last = max(page["pages"], 1)
    links = {"first": 1, "last": last}
    if page["page"] > 1:
        links["prev"] = min(page["page"] - 1, last)
    if page["page"] < last:
        links["next"] = page["page"] + 1
    return {
        "X-Total-Count": str(page["total"]),
        "Link": ", ".join(f'<{page_url(number)}>; rel="{rel}"' for rel, number in links.items()),
    }
