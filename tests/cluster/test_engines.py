"""The fixtures themselves: each cluster fails over as configured, without the app.

The figures recorded here are the engines' own; the app's are in test_failover.py.
"""

from __future__ import annotations

import time

import pika
import pymysql
import pytest
import redis
from redis.sentinel import Sentinel

from tests.helpers.cluster.procs import wait_until
from tests.helpers.cluster.redis_sentinel import MASTER_NAME


def write_through(port: int) -> str:
    """One autocommit INSERT on a new connection; the node that took it."""
    conn = pymysql.connect(
        host="127.0.0.1",
        port=port,
        user="root",
        autocommit=True,
        connect_timeout=1,
        read_timeout=3,
        write_timeout=3,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS engine_check")
            cur.execute("CREATE TABLE IF NOT EXISTS engine_check.t (i INT AUTO_INCREMENT PRIMARY KEY)")
            cur.execute("INSERT INTO engine_check.t VALUES ()")
            cur.execute("SELECT @@wsrep_node_name")
            return cur.fetchone()[0]
    finally:
        conn.close()


def routes(galera, connections: int = 6) -> set[str]:
    """The nodes new connections through HAProxy reach (round robin: every healthy one)."""
    return {galera.routed_to() for _ in range(connections)}


@pytest.mark.parametrize("victim", [0, 2], ids=["first", "last"])
def test_haproxy_drops_a_killed_galera_node_and_it_rejoins(galera, figures, victim):
    galera.wait_healthy()
    assert routes(galera) == {n.name for n in galera.nodes}  # balanced over the three
    node = galera.nodes[victim]
    killed = time.monotonic()
    galera.kill(node)
    # fall 2 x inter 500 ms: out within about 1 s (a refused check fails at once).
    dropped = wait_until(lambda: galera.haproxy_state()[node.name].startswith("DOWN"), 10, "HAProxy drops it")
    figures[f"galera {node.name} killed: HAProxy marks it DOWN"] = dropped
    assert dropped < 2.0

    # Writes through HAProxy resume once the survivors evict the dead node (evs timeouts).
    def writes() -> bool:
        return write_through(galera.port) != node.name

    wait_until(writes, 20, "a write through HAProxy", interval=0.05)
    resumed = time.monotonic() - killed
    figures[f"galera {node.name} killed: first write through HAProxy"] = resumed
    assert resumed < 6.0
    status = galera.nodes[1].status("wsrep_cluster_size")
    assert status == "2"
    assert node.name not in routes(galera)

    galera.wait_evicted(node)  # as tests/cluster/test_failover.py: the view without it first
    rejoined = galera.restart(node)
    figures[f"galera {node.name} restarted: Synced again (IST)"] = rejoined
    assert node.last_transfer == "IST"  # recovered position: no full SST, no locked donor
    back = wait_until(lambda: galera.haproxy_state()[node.name] == "UP", 10, "HAProxy takes it back")
    figures[f"galera {node.name} restarted: HAProxy UP after Synced"] = back
    assert galera.nodes[1].status("wsrep_cluster_size") == "3"
    assert routes(galera) == {n.name for n in galera.nodes}


def test_sentinel_promotes_the_replica(redis_sentinels, figures):
    redis_sentinels.wait_healthy()
    sentinel = Sentinel(
        [("127.0.0.1", s.port) for s in redis_sentinels.sentinels],
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
    )
    master = sentinel.master_for(MASTER_NAME, socket_timeout=0.5, socket_connect_timeout=0.5)
    master.set("before", "1")
    assert master.wait(1, 2000) == 1  # on the replica too, so the promotion keeps it
    _, old_port = redis_sentinels.current_master()
    old = redis_sentinels.server_on(old_port)
    killed = time.monotonic()
    old.daemon.kill()

    def written() -> bool:
        try:
            return bool(master.set("after", "1"))
        except redis.RedisError:
            return False

    promoted = wait_until(written, 20, "a write to the promoted replica", interval=0.05)
    figures["redis master killed: first write to the new master"] = promoted
    assert time.monotonic() - killed < 6.0
    _, new_port = redis_sentinels.current_master()
    assert new_port != old_port
    assert master.get("before") == b"1"

    redis_sentinels.restart_as_replica(old, new_port)
    redis_sentinels.wait_healthy()
    assert old.role() == "slave"


def test_quorum_queue_survives_a_node_kill(rabbit_cluster, figures):
    rabbit_cluster.wait_healthy()
    first = rabbit_cluster.nodes[0]
    name = f"engine-check-{int(time.time())}"
    # Declared through node 1: its leader starts there, so the kill below takes the leader.
    conn = pika.BlockingConnection(pika.URLParameters(first.url))
    channel = conn.channel()
    channel.confirm_delivery()
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    for n in range(100):
        channel.basic_publish("", name, str(n).encode(), pika.BasicProperties(delivery_mode=2))
    conn.close()

    killed = time.monotonic()
    first.daemon.kill()

    def published() -> bool:
        try:
            conn = rabbit_cluster.connect()
        except pika.exceptions.AMQPError:
            return False
        try:
            channel = conn.channel()
            channel.confirm_delivery()
            channel.basic_publish("", name, b"after", pika.BasicProperties(delivery_mode=2))
            return True
        finally:
            conn.close()

    resumed = wait_until(published, 30, "a confirmed publish after the kill", interval=0.05)
    figures["rabbitmq node (quorum leader) killed: first confirmed publish"] = resumed
    assert time.monotonic() - killed < 5.0
    conn = rabbit_cluster.connect()
    assert conn.channel().queue_declare(name, passive=True).method.message_count == 101
    conn.close()

    figures["rabbitmq node restarted: accepts clients again"] = rabbit_cluster.restart(first)
    rabbit_cluster.wait_healthy()
    conn = rabbit_cluster.connect()
    channel = conn.channel()
    assert channel.queue_declare(name, passive=True).method.message_count == 101
    channel.queue_delete(name)
    conn.close()
