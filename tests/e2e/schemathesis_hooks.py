"""schemathesis hooks (``SCHEMATHESIS_HOOKS``): generated clients play by rules no OpenAPI
document can state, here those of a cursor.

``after`` is a token only the server makes (``next_cursor``) for the sort it was made for, and
``page`` goes without it: OpenAPI has no parameter dependencies (OAI/OpenAPI-Specification#256)
and no "server-issued" values. A positive case that sends ``after`` therefore sends what a
client would: a cursor made by the server's own encoding for the case's sort, without ``page``.
Negative cases are left alone (any other ``after`` must be a 400, and is checked).
"""

from __future__ import annotations

import schemathesis

from api.schemas.fields import Cursor
from services.wdtests import CURSOR_SORTABLE, total_order


def _as_list(value) -> list[str]:
    if isinstance(value, str):
        return value.split(",") if value else []
    return [str(item) for item in value or ()]


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if (
        case.operation.method.upper() != "GET"
        or not case.operation.path.endswith("/wdtests")
        or meta is None
        or not meta.generation.mode.is_positive
        or not case.query
        or "after" not in case.query
    ):
        return case
    query = dict(case.query)
    query.pop("page", None)
    sort = _as_list(query.get("sort"))
    order = total_order(sort)
    if all(item.lstrip("-") in CURSOR_SORTABLE for item in order):
        query["after"] = Cursor()._serialize([sort, ["m"] * len(order)], "after", None)
    else:
        del query["after"]  # no cursor is ever made for a sort on age
    case.query = query
    return case
