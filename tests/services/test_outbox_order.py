"""Two relays draining a backlog of interleaved writes: every event arrives, each record's
in version order (the relay claims one event per record at a time)."""

from collections import defaultdict

from services import wdtests
from tests.helpers.rabbit import unique
from tests.helpers.relays import drain_with_relays

RECORDS = 200
GROUP = 4  # records written in turn: a record's events are a few ids apart, as in real traffic
BATCH = 3  # small batches: the two relays' batches hold events of the same records


def write_backlog() -> dict[str, list[int]]:
    """Interleaved writes over RECORDS records; return each record's expected event versions."""
    expected = defaultdict(list)
    for start in range(0, RECORDS, GROUP):
        ids = [f"o{i}" for i in range(start, start + GROUP)]
        for rid in ids:
            wdtests.create(data={"id": rid, "name": "v1"})
            expected[rid].append(1)
        for step in (2, 3):
            for rid in ids:
                expected[rid].append(wdtests.update(wdtest_id=rid, changes={"age": step}).version)
        for rid in ids[::2]:
            wdtests.delete(wdtest_id=rid)
            expected[rid].append(4)  # the final version (3) + 1
    return expected


def test_two_relays_keep_each_records_order_and_lose_nothing(app, broker):
    exchange = unique("test.order")
    app.config["WDTEST_EVENTS_EXCHANGE"] = exchange
    queue = broker.bind_events(exchange)
    with app.app_context():
        expected = write_backlog()
    drain_with_relays(app, limit=BATCH)
    received = defaultdict(list)
    for _, body in broker.drain(queue):
        received[body["subject"]].append(body["version"])
    assert dict(received) == dict(expected)  # none missing, none twice, each in version order
    assert sum(len(v) for v in received.values()) == RECORDS * 3 + RECORDS // 2
