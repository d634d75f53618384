"""Rate limits through Sentinel: counts live on the master, survive a failover when
replicated, and counting resumes on the promoted replica after the master is SIGKILLed."""

from __future__ import annotations

import time

from tests.helpers.cluster.redis_sentinel import MASTER_NAME
from tests.helpers.ratelimits import storage_of, wait_for_syncs

LIMIT = 3
OPERATION = "/api/v1/exceptions/divide?a=6&b=3"  # needs no dependency
RECOVERY_BOUND = 15.0  # the sync retries every interval; Sentinel needs about 3 s to promote


def counters(client, prefix: str) -> dict[bytes, int]:
    return {name: int(client.get(name) or 0) for name in client.scan_iter(match=f"{prefix}ratelimit*")}


def test_counts_survive_the_failover_and_resume_on_the_new_master(sentinel_group, make_app, capsys):
    prefix = "rl-sentinel:"
    app = make_app(
        REDIS_URL="",
        REDIS_SENTINELS=sentinel_group.addresses,
        REDIS_SENTINEL_MASTER=MASTER_NAME,
        REDIS_KEY_PREFIX=prefix,
        RATELIMIT_ENABLED=True,
        RATELIMIT_APPLICATION=f"{LIMIT} per minute",
    )
    http = app.test_client()
    assert [http.get(OPERATION).status_code for _ in range(LIMIT + 1)] == [200] * LIMIT + [429]
    wait_for_syncs(storage_of(app))  # decided in process, counted in Redis in the background
    master = sentinel_group.master.client()
    assert list(counters(master, prefix).values()) == [LIMIT + 1]  # counted in Redis, not in memory
    assert master.wait(1, 2000) == 1  # the counter is on the replica too
    master.close()

    killed = sentinel_group.kill_master()
    # Requests all along: during the outage each process counts alone, and its sync
    # retries every interval until the promoted replica answers.
    new_master = sentinel_group.replica.client()
    statuses = []
    deadline = time.monotonic() + RECOVERY_BOUND
    while time.monotonic() < deadline:
        statuses.append(http.get(OPERATION).status_code)
        if max(counters(new_master, prefix).values()) > LIMIT + 1:
            break
        time.sleep(0.1)
    resumed = time.monotonic()
    new_master.close()
    with capsys.disabled():
        print(
            f"\nrate limits counted on the new master {resumed - killed:.2f} s after the SIGKILL;"
            f" {statuses.count(200)} of {len(statuses)} requests passed meanwhile (counted in process)"
        )
    assert resumed < deadline
    # Never an error; during the outage each process counts in memory from zero (up to LIMIT more).
    assert set(statuses) <= {200, 429}
    assert statuses[-1] == 429  # the replicated count holds on the new master
