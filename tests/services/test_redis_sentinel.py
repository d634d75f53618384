"""Redis through Sentinel: a master of the test's own is SIGKILLed, the replica promoted.

The cache, the idempotency store and the key-value namespace must work again within a few
seconds, and an invalidation the failover lost must not make a read stale.
"""

from __future__ import annotations

import json
import time

import pytest
import redis

from core.errors import Unavailable
from extensions.redis_store import run_script
from services import cache, idempotency, keyvalue, wdtests
from tests.helpers.cluster.procs import until_available
from tests.helpers.cluster.redis_sentinel import MASTER_NAME
from tests.helpers.faultproxy import BLACKHOLE

FP = idempotency.fingerprint(method="POST", path="/api/v1/wdtests", body=b"{}")
RECOVERY_BOUND = 10.0  # seconds from the kill: down-after 2 s, election, promotion, retry interval


def render(record) -> bytes:
    return json.dumps({"id": record.id, "name": record.name}).encode()


render.version = "r1"


def read(wdtest_id: str) -> tuple[str, bool]:
    rendered = wdtests.get_rendered(wdtest_id=wdtest_id, render=render)
    return json.loads(rendered.body)["name"], rendered.hit


def until(action):
    return until_available(action, RECOVERY_BOUND, interval=0.02)


def reads_until_hit(wdtest_id: str, timeout: float = RECOVERY_BOUND) -> list[tuple[str, bool]]:
    """Read until the cache answers (a hit) again; every read made."""
    reads: list[tuple[str, bool]] = []
    deadline = time.monotonic() + timeout
    while not (reads and reads[-1][1]) and time.monotonic() < deadline:
        reads.append(read(wdtest_id))
        time.sleep(0.02)
    return reads


@pytest.fixture
def sentinel_app(sentinel_group, make_app):
    return make_app(REDIS_URL="", REDIS_SENTINELS=sentinel_group.addresses, REDIS_SENTINEL_MASTER=MASTER_NAME)


def test_cache_idempotency_and_keyvalue_work_again_after_the_master_is_killed(
    sentinel_group, sentinel_app, capsys
):
    with sentinel_app.app_context():
        wdtests.create(data={"id": "f", "name": "before"})
        assert read("f") == ("before", False)
        keyvalue.put(key="k", value="before")
        assert isinstance(idempotency.begin(key="i0", caller="c", fingerprint=FP), idempotency.Claim)
        old_master = sentinel_group.current_master()

        killed = sentinel_group.kill_master()
        _, kv_back = until(lambda: keyvalue.put(key="k", value="after"))
        claim, idempotency_back = until(lambda: idempotency.begin(key="i1", caller="c", fingerprint=FP))
        reads = reads_until_hit("f")
        cache_back = time.monotonic()

        sentinel_app.extensions["redis"].ping(1.0)  # readiness follows the master too
        assert sentinel_group.current_master() != old_master
        assert keyvalue.get(key="k").value == "after"
        assert isinstance(claim, idempotency.Claim)
        assert reads[-1] == ("before", True) and {name for name, _ in reads} == {"before"}
        figures = {"kv": kv_back, "idempotency": idempotency_back, "cache hit": cache_back}
        with capsys.disabled():
            print(
                "\nseconds from SIGKILL to working again:",
                {k: round(v - killed, 2) for k, v in figures.items()},
            )
        assert cache_back - killed < RECOVERY_BOUND


def test_an_invalidation_the_failover_lost_cannot_make_a_read_stale(sentinel_group, make_app):
    app = make_app(
        REDIS_URL="",
        REDIS_SENTINELS=sentinel_group.addresses,
        REDIS_SENTINEL_MASTER=MASTER_NAME,
        REDIS_WAIT_REPLICAS=1,
    )
    with app.app_context():
        wdtests.create(data={"id": "s", "name": "old"})
        assert [read("s") for _ in range(2)] == [("old", False), ("old", True)]
        keyvalue.put(key="k", value="replicated")  # WAIT 1: the replica has it
        epoch = app.extensions[cache.EXTENSION].epoch
        entry = cache._keys(wdtests.CACHE_KIND, "s", epoch)[0]

        sentinel_group.link.mode = BLACKHOLE  # from here on, the master's writes never reach the replica
        with pytest.raises(Unavailable):
            keyvalue.put(key="k", value="lost")
        with pytest.raises(Unavailable):
            idempotency.begin(key="i", caller="c", fingerprint=FP)
        wdtests.update(wdtest_id="s", changes={"name": "new"})
        assert read("s") == ("new", False)  # the master has the invalidation

        sentinel_group.kill_master()
        sentinel_group.wait_for_promotion()
        replica = sentinel_group.replica.client()
        # The failover lost the invalidation: the old body is still there, under the old epoch.
        assert b"old" in replica.get(entry)
        replica.close()

        reads = reads_until_hit("s")
        assert {name for name, _ in reads} == {"new"}
        assert reads[-1][1] is True  # cached again, under the new master's epoch
        assert app.extensions[cache.EXTENSION].epoch != epoch
        assert keyvalue.get(key="k").value == "replicated"  # what WAIT confirmed survived


def test_a_sentinel_naming_a_replica_cannot_make_another_process_read_stale(sentinel_group, make_app):
    """Two processes share the cache; the writer's first sentinel lags and names the replica
    as the master. The writer must still invalidate on the master the reader reads from."""
    prefix = f"lag-{time.monotonic_ns()}:"
    current = sentinel_group.addresses
    lagging = sentinel_group.start_lagging_sentinel()
    assert sentinel_group.named_by(lagging) == sentinel_group.replica.port
    sentinels = {"REDIS_URL": "", "REDIS_SENTINEL_MASTER": MASTER_NAME, "REDIS_KEY_PREFIX": prefix}
    writer = make_app(REDIS_SENTINELS=f"127.0.0.1:{lagging.port},{current}", **sentinels)
    reader = make_app(REDIS_SENTINELS=current, **sentinels)

    with reader.app_context():
        wdtests.create(data={"id": "lag", "name": "old"})
        assert [read("lag") for _ in range(2)] == [("old", False), ("old", True)]
    with writer.app_context():
        wdtests.update(wdtest_id="lag", changes={"name": "new"})
        assert not writer.extensions[cache.EXTENSION].pending  # the invalidation reached the master
        pool = writer.extensions["redis"].client.connection_pool
        assert pool.master_address[1] == sentinel_group.current_master()[1]
    with reader.app_context():
        assert read("lag") == ("new", False)


def test_a_demoted_master_still_connected_answers_the_cache_scripts_readonly(sentinel_group):
    """A connection to a server that is no longer the master gets READONLY from every cache
    script, which redis-py's Sentinel connection answers by dropping itself."""
    replica = sentinel_group.replica.client()
    try:
        for script, args in ((cache._READ, ("e",)), (cache._BUMP, ("e", 1, 60))):
            with pytest.raises(redis.exceptions.ReadOnlyError):
                run_script(script, replica, ("k1", "k2"), args)
    finally:
        replica.close()
