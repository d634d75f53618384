"""One winner for racing conditional writes sent to two different Galera nodes.

Two instances, each on its own node directly (no HAProxy): the same ``If-Match`` PATCH
released at once on both. ``SELECT ... FOR UPDATE`` locks only on its own node, so both may
pass the precondition; Galera's certification then aborts one commit (error 1213), which the
app must answer as a lost precondition (412, or 409), not as a second winner or a 5xx.
Needs only the Galera cluster (no Redis, no RabbitMQ).
"""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import create_engine, text

from tests.helpers.cluster.stack import app_stack, create_database
from tests.helpers.loadgen import request

DATABASE = "wdapi_if_match"
ROUNDS = 20
PATH = "/api/v1/wdtests"


@pytest.fixture(scope="module")
def two_nodes(galera, tmp_path_factory):
    galera.wait_healthy()
    create_database(galera.url(DATABASE))
    # Off: no Redis (no read cache to go stale) and no broker (events stay in the outbox).
    settings = [
        {"DATABASE_URL": node.url(DATABASE), "REDIS_URL": "", "RABBIT_HOST": ""} for node in galera.nodes[:2]
    ]
    with app_stack(tmp_path_factory.mktemp("if-match"), settings) as instances:
        yield instances


def patch(port: int, record_id: str, etag: str, name: str, barrier: threading.Barrier, out: dict) -> None:
    barrier.wait()
    status, _, body = request(port, "PATCH", f"{PATH}/{record_id}", {"name": name}, {"If-Match": etag})
    out[name] = (status, body)


def test_one_winner_across_two_galera_nodes(two_nodes, galera):
    a, b = two_nodes
    record_id = "race-1"
    status, headers, _ = request(a.port, "POST", PATH, {"id": record_id, "name": "start", "age": 1})
    assert status == 201
    engine = create_engine(galera.url(DATABASE))
    failures = []
    try:
        for round_ in range(ROUNDS):
            status, headers, body = request(a.port, "GET", f"{PATH}/{record_id}")
            assert status == 200
            version = json.loads(body)["version"]
            outcomes: dict = {}
            barrier = threading.Barrier(2)
            threads = [
                threading.Thread(
                    target=patch, args=(i.port, record_id, headers["ETag"], f"{n}{round_}", barrier, outcomes)
                )
                for n, i in (("a", a), ("b", b))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            statuses = sorted(status for status, _ in outcomes.values())
            winners = [name for name, (status, _) in outcomes.items() if 200 <= status < 300]
            with engine.connect() as conn:
                conn.execute(text("SET SESSION wsrep_sync_wait = 1"))  # read after every commit applied
                row = conn.execute(
                    text("SELECT name, version FROM wdtest WHERE id = :id"), {"id": record_id}
                ).one()
            if len(winners) != 1 or statuses[0] >= 300 or statuses[1] not in (409, 412):
                failures.append(f"round {round_}: {statuses} {[b[:200] for _, b in outcomes.values()]}")
            elif tuple(row) != (winners[0], version + 1):
                failures.append(f"round {round_}: winner {winners[0]} at {version + 1}, row {tuple(row)}")
    finally:
        engine.dispose()
    assert not failures, f"{len(failures)} of {ROUNDS} rounds without one clean winner:\n" + "\n".join(
        failures
    )
