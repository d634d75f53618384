"""Data builders: records through the API (api tier) or through the service (services tier)."""

from __future__ import annotations

from collections.abc import Iterable

from services import wdtests

WDTESTS_URL = "/api/v1/wdtests"
Row = tuple[str, str, int | None]


def post_wdtest(client, **body) -> dict:
    """Create one record through the API; its JSON."""
    response = client.post(WDTESTS_URL, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post_wdtests(client, rows: Iterable[Row]) -> None:
    """Create ``(id, name, age)`` records through the API."""
    for id_, name, age in rows:
        post_wdtest(client, id=id_, name=name, age=age)


def add_wdtests(rows: Iterable[Row]) -> None:
    """Create ``(id, name, age)`` records through the service (inside an app context)."""
    for id_, name, age in rows:
        wdtests.create(data={"id": id_, "name": name, "age": age})
