"""HTTP headers for a page of results: ``X-Total-Count`` and an RFC 8288 ``Link``."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from core.context import request_object


class PageURLs:
    """This request's URL with changes to its query. Each parameter is encoded once, not
    once per link: a page's four links would quote every unchanged pair four times."""

    def __init__(self) -> None:
        request = request_object()
        self.base = request.base_url
        self.pairs = {name: urlencode({name: value}) for name, value in request.args.to_dict().items()}

    def __call__(self, **changes: object) -> str:
        """The URL with ``changes`` moved to the end of the query (None removes a parameter):
        what ``urlencode`` gives for the query updated in place."""
        kept = [pair for name, pair in self.pairs.items() if name not in changes]
        moved = [urlencode({name: value}) for name, value in changes.items() if value is not None]
        return f"{self.base}?{'&'.join(kept + moved)}"


def pagination_headers(page: Mapping) -> dict[str, str]:
    """Headers for a dumped page (``WdtestPage``): ``first``, ``prev``, ``next`` and ``last``
    links as far as the page knows them, and the total when it was counted."""
    page_url = PageURLs()
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
