"""What the failover test asserts about a ``KeyedLoad``, as pure functions (tests/unit checks them)."""

from __future__ import annotations

from tests.helpers.cluster.keyed_load import KeyedLoad, Write


def lost_writes(load: KeyedLoad, stored: dict[str, tuple[str, int]]) -> list[str]:
    """Acknowledged writes whose values the database (``stored``: id -> (name, version)) does
    not hold, nor those of a later write that may have been applied (acknowledged, or in
    doubt: no answer, or a 503)."""
    lost = []
    last: dict[str, Write] = {}
    for write in load.acknowledged():
        last[write.record_id] = write
    for record_id, write in last.items():
        assert write.body is not None
        later = [w for w in load.writes if w.record_id == record_id and w.started >= write.started]
        names = {write.body["name"]} | {w.sent["name"] for w in later if w.in_doubt or w.acknowledged}
        name, version = stored.get(record_id, (None, 0))
        if name not in names or version < write.body["version"]:
            acked = f"{write.body['name']!r} v{write.body['version']}"
            lost.append(f"{record_id}: acknowledged {acked}, stored {name!r} v{version}")
    return lost


def event_problems(load: KeyedLoad, events: list[dict]) -> list[str]:
    """Acknowledged writes without their event on the queue, and records whose events (the
    first copy of each event id, in queue order) are not in increasing version order."""
    seen: set[str] = set()
    versions: dict[str, list[int]] = {}
    for event in events:
        if event["id"] in seen:
            continue  # a redelivery after a lost confirm: allowed
        seen.add(event["id"])
        versions.setdefault(event["subject"], []).append(event["version"])
    problems = [
        f"{subject}: versions {found} out of order"
        for subject, found in versions.items()
        if any(b <= a for a, b in zip(found, found[1:], strict=False))
    ]
    for write in load.acknowledged():
        assert write.body is not None
        if write.body["version"] not in versions.get(write.record_id, []):
            problems.append(f"{write.record_id} v{write.body['version']}: acknowledged, no event")
    return problems
