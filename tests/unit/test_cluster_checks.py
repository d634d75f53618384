"""The cluster tier's verdicts on synthetic loads: each check fails on the fault it names."""

from tests.helpers.cluster.checks import event_problems, lost_writes
from tests.helpers.cluster.keyed_load import Attempt, KeyedLoad, Read, Write


def write(record_id, name, version, started, *, acked=True, in_doubt=False, method="PATCH"):
    body = {"id": record_id, "name": name, "version": version} if acked else None
    return Write(
        method, record_id, {"name": name}, "k", started, 200 if acked else 503, started + 0.1, body, in_doubt
    )


def load_with(*writes, reads=(), attempts=()):
    load = KeyedLoad(ports=[1])
    load.writes.extend(writes)
    load.reads.extend(reads)
    load.attempts.extend(attempts)
    return load


def event(record_id, version, event_id=None):
    return {"id": event_id or f"{record_id}-{version}", "subject": record_id, "version": version}


def test_lost_writes_accepts_the_last_acknowledged_values_or_a_later_write_in_doubt():
    load = load_with(
        write("r", "a", 1, 1.0), write("r", "b", 2, 2.0), write("r", "c", 3, 3.0, acked=False, in_doubt=True)
    )
    assert lost_writes(load, {"r": ("b", 2)}) == []
    assert lost_writes(load, {"r": ("c", 3)}) == []  # the unanswered write may have committed


def test_lost_writes_names_an_older_value_a_missing_row_or_a_lower_version():
    load = load_with(write("r", "a", 1, 1.0), write("r", "b", 2, 2.0))
    assert lost_writes(load, {"r": ("a", 1)})
    assert lost_writes(load, {})
    assert lost_writes(load, {"r": ("b", 1)})


def test_event_problems_allows_duplicates_by_id_and_wants_version_order():
    load = load_with(write("r", "a", 1, 1.0), write("r", "b", 2, 2.0))
    assert event_problems(load, [event("r", 1), event("r", 1), event("r", 2)]) == []
    assert event_problems(load, [event("r", 2), event("r", 1)])  # out of order
    assert event_problems(load, [event("r", 1)])  # v2 acknowledged, no event


def test_stale_reads_are_reads_older_than_a_write_acknowledged_before_them():
    acked = write("r", "b", 2, 1.0)  # acknowledged at 1.1
    fresh = Read("r", 2.0, 2.1, 200, 2)
    stale = Read("r", 2.0, 2.1, 200, 1)
    gone = Read("r", 2.0, 2.1, 404, 0)
    racing = Read("r", 1.05, 1.2, 200, 1)  # sent before the acknowledgement
    assert load_with(acked, reads=[fresh, racing]).stale_reads() == []
    assert len(load_with(acked, reads=[stale, gone]).stale_reads()) == 2


def test_longest_gap_counts_from_the_last_success_before_the_kill():
    def ok(ended):
        return Attempt(0, "PATCH", "/", 200, ended - 0.01, ended)

    load = load_with(attempts=[ok(1.0), ok(2.0), ok(6.0), ok(7.0), Attempt(0, "PATCH", "/", 503, 3, 4)])
    assert load.longest_gap(2.5, 8.0) == 4.0  # 2.0 -> 6.0
    assert load.longest_gap(6.5, 10.0) == 3.0  # 7.0 -> the window's end
    assert load.first_success_after(2.5) == 3.5
