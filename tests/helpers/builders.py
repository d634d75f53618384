"""Data builders: records through the API (api tier) or through the service (services tier)."""

from __future__ import annotations

from collections.abc import Iterable

from services import wdtests

WDTESTS_URL = "/api/v1/wdtests"
Row = tuple[str, str, int | None]
# Names that exercise case, LIKE wildcards and escapes; ages with ties and a null.
PEOPLE: list[Row] = [
    ("1", "wade", 20),
    ("2", "wang", 20),
    ("3", "jack", 30),
    ("4", "rose", None),
    ("5", "wag", 25),
    ("6", "50%_off", 40),
    ("7", "50 percent", 41),
    ("8", "back\\slash", 42),
    ("9", "Wade", 20),
]


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
