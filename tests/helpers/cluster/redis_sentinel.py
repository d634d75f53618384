"""A Redis master, one replica and three sentinels, each a ``redis-server`` in a temp dir.

Used by the cluster tier (tests/cluster, one set per session) and by the services and api
tests of Sentinel failover (one set per test). With ``replica_through_proxy=True`` the
replica replicates through a ``FaultProxy`` (``link``), so a test can black-hole replication
and then kill the master: the writes in between are lost, as asynchronous replication loses
them in a real failover. The replica still announces its own port; only its link goes through
the proxy.

Failure detection: a sentinel holds the master down after ``down-after-milliseconds``
(2000 ms); two of three agreeing (quorum 2) elect a leader that promotes the replica.
``failover-timeout`` (5000 ms) bounds a stuck failover before another sentinel retries.
Every process is stopped by its process group id in ``stop``.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis

from tests.helpers.cluster.procs import Daemon, Gone, binary, cluster_port, wait_until
from tests.helpers.faultproxy import FaultProxy

MASTER_NAME = "wdapi"
# Above the sentinels' own 1 s ping and reconnect period: at 1000 ms a sentinel that has just
# switched to the promoted replica can hold it down before its first PING (its new link waits
# out that period), and all three then fail over a second time to the old master, restarted
# as a replica, leaving two masters for about 10 s (seen in CI; docs/deployment-cluster.md).
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 5000
QUORUM = 2
POLL = 0.05  # seconds between readiness checks: start-up is in every run of make test


class RedisServer:
    def __init__(self, name: str, base: Path, server: str):
        self.name, self.port, self.server = name, cluster_port(), server
        self.dir = base / name
        self.dir.mkdir(parents=True)
        self.daemon: Daemon | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)

    def start(self, *extra: str) -> None:
        argv = [self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        # No 5 s wait before a full sync: a replica is online as soon as it connects.
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--repl-diskless-sync-delay", "0"]
        self.daemon = Daemon(self.name, [*argv, *extra], self.dir / "redis.log").start()
        wait_until(self._answers, 30, f"redis {self.name} answers PING", interval=POLL)

    def _answers(self) -> bool:
        if self.daemon is None or not self.daemon.alive():
            raise Gone(f"redis {self.name} exited:\n{self.daemon and self.daemon.tail()}")
        client = self.client()
        try:
            return bool(client.ping())
        finally:
            client.close()

    def role(self) -> str:
        return self.client().role()[0].decode()


class SentinelCluster:
    def __init__(self, base: Path, *, replica_through_proxy: bool = False):
        self.server = binary("redis-server")  # skips (fails under REQUIRE_SERVICES=1) first
        self.base = base
        self.master = RedisServer("master", base, self.server)
        self.replica = RedisServer("replica", base, self.server)
        self.sentinels = [RedisServer(f"sentinel{i}", base, self.server) for i in range(1, 4)]
        self.replica_through_proxy = replica_through_proxy
        self.link: FaultProxy | None = None  # replica -> master replication, when proxied
        self.timings: dict[str, float] = {}

    @property
    def addresses(self) -> str:
        """REDIS_SENTINELS: host:port,host:port,..."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def start(self) -> SentinelCluster:
        started = time.monotonic()
        self.master.start()
        upstream = self.master.port
        if self.replica_through_proxy:
            self.link = FaultProxy("127.0.0.1", self.master.port).start()
            upstream = self.link.port
        self.replica.start("--replicaof", "127.0.0.1", str(upstream))
        wait_until(
            lambda: self.replica.client().info("replication")["master_link_status"] == "up",
            30,
            "replica linked to the master",
            interval=POLL,
        )
        for sentinel in self.sentinels:
            self._start_sentinel(sentinel, self.master.port, QUORUM, DOWN_AFTER_MS)
        # Ready when every sentinel knows the replica and the other two sentinels: failover possible.
        for sentinel in self.sentinels:
            wait_until(lambda s=sentinel: self._sees_all(s), 60, f"{sentinel.name} sees the set", POLL)
        self.timings["total"] = time.monotonic() - started
        return self

    def _start_sentinel(
        self, sentinel: RedisServer, master_port: int, quorum: int, down_after_ms: int
    ) -> None:
        config = sentinel.dir / "sentinel.conf"  # sentinel rewrites it: one file each
        config.write_text(
            "\n".join(
                [
                    f"port {sentinel.port}",
                    "bind 127.0.0.1",
                    f"dir {sentinel.dir}",
                    f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {quorum}",
                    f"sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}",
                    f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {MASTER_NAME} 1",
                    "",
                ]
            )
        )
        sentinel.daemon = Daemon(
            sentinel.name, [self.server, str(config), "--sentinel"], sentinel.dir / "redis.log"
        ).start()

    def start_lagging_sentinel(self) -> RedisServer:
        """One more sentinel, naming the replica as the master: what a sentinel that has not
        yet learnt of a failover answers when the old master is back as a replica. Its config
        epoch is the others' (0), so their announcements never correct it; the replica reports
        its role, but a sentinel holds such a master down only after down-after plus 20 s."""
        lagging = RedisServer("sentinel-lagging", self.base, self.server)
        self.sentinels.append(lagging)  # stopped with the others
        self._start_sentinel(lagging, self.replica.port, 1, 60_000)
        wait_until(lambda: self.named_by(lagging) is not None, 30, "it names a master")
        return lagging

    @staticmethod
    def named_by(sentinel: RedisServer) -> int | None:
        """The port of the master ``sentinel`` names (None: none yet)."""
        client = sentinel.client()
        try:
            named = client.sentinel_get_master_addr_by_name(MASTER_NAME)
            return None if named is None else int(named[1])
        finally:
            client.close()

    def wait_healthy(self, timeout: float = 60) -> None:
        """Both servers up, one master and its linked replica, every sentinel seeing the set."""

        def healthy() -> bool:
            host, port = self.current_master()
            replica = next(s for s in (self.master, self.replica) if s.port != port)
            return replica.client().info("replication")["master_link_status"] == "up" and all(
                self._sees_all(s) for s in self.sentinels
            )

        wait_until(healthy, timeout, "redis set healthy")

    def _sees_all(self, sentinel: RedisServer) -> bool:
        info = sentinel.client().sentinel_master(MASTER_NAME)
        return info["num-slaves"] >= 1 and info["num-other-sentinels"] >= len(self.sentinels) - 1

    def current_master(self) -> tuple[str, int]:
        """The master as the first sentinel that answers names it."""
        for sentinel in self.sentinels:
            try:
                host, port = sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)
                return host.decode() if isinstance(host, bytes) else host, int(port)
            except (redis.RedisError, TypeError):
                continue
        raise RuntimeError("no sentinel answers")

    def server_on(self, port: int) -> RedisServer:
        return next(s for s in (self.master, self.replica) if s.port == port)

    def kill_master(self) -> float:
        """SIGKILL the server the sentinels name master; returns the monotonic time of the kill."""
        server = self.server_on(self.current_master()[1])
        assert server.daemon is not None
        server.daemon.kill()
        return time.monotonic()

    def wait_for_promotion(self, timeout: float = 30) -> float:
        """Wait until the sentinels name the replica and it answers as master; returns the time."""
        wait_until(lambda: self.current_master()[1] == self.replica.port, timeout, "the promotion", POLL)
        wait_until(lambda: self.replica.role() == "master", timeout, "the new master", POLL)
        return time.monotonic()

    def restart_as_replica(self, server: RedisServer, master_port: int) -> None:
        """Start a killed server again; sentinel would turn it into a replica anyway."""
        server.start("--replicaof", "127.0.0.1", str(master_port))

    def stop(self) -> None:
        try:
            for server in (*self.sentinels, self.replica, self.master):
                if server.daemon is not None:
                    server.daemon.stop(10)
        finally:
            if self.link is not None:
                self.link.stop()
