"""HTTP headers for a page of results: ``X-Total-Count`` and an RFC 8288 ``Link``."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from core.context import request_object


def page_url(**changes: object) -> str:
    """This request's URL with ``changes`` to its query (a None value removes the parameter)."""
    request = request_object()
    args: dict[str, object] = dict(request.args.to_dict())
    for name, value in changes.items():
        args.pop(name, None)
        if value is not None:
            args[name] = value
    return f"{request.base_url}?{urlencode(args)}"


def pagination_headers(page: Mapping) -> dict[str, str]:
    """Headers for a dumped page (``WdtestPage``): ``first``, ``prev``, ``next`` and ``last``
    links as far as the page knows them, and the total when it was counted."""
    links = {"first": page_url(page=1, after=None)}
    number, pages = page.get("page"), page.get("pages")
    if number is None:  # reached by cursor: onwards only
        if page["next_cursor"] is not None:
            links["next"] = page_url(after=page["next_cursor"])
        return {"Link": _link(links)}
    last = max(pages, 1) if pages is not None else None
    if number > 1:
        links["prev"] = page_url(page=min(number - 1, last or number - 1))
    if (last is not None and number < last) or (last is None and page["next_cursor"] is not None):
        links["next"] = page_url(page=number + 1)
    if last is not None:
        links["last"] = page_url(page=last)
    headers = {"Link": _link(links)}
    if "total" in page:
        headers["X-Total-Count"] = str(page["total"])
    return headers


def _link(links: Mapping[str, str]) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
