"""A Redis master, one replica and three sentinels, each a ``redis-server`` in the temp dir.

Failure detection: a sentinel holds the master down after ``down-after-milliseconds``
(1000 ms); two of three agreeing (quorum 2) elect a leader that promotes the replica.
``failover-timeout`` (5000 ms) bounds a stuck failover before another sentinel retries.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis

from tests.helpers.cluster.procs import Daemon, Gone, binary, cluster_port, wait_until

MASTER_NAME = "wdapi"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
QUORUM = 2


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
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", *extra]
        self.daemon = Daemon(self.name, argv, self.dir / "redis.log").start()
        wait_until(self._answers, 30, f"redis {self.name} answers PING")

    def _answers(self) -> bool:
        if self.daemon is None or not self.daemon.alive():
            raise Gone(f"redis {self.name} exited:\n{self.daemon and self.daemon.tail()}")
        return bool(self.client().ping())

    def role(self) -> str:
        return self.client().role()[0].decode()


class SentinelCluster:
    def __init__(self, base: Path):
        self.server = binary("redis-server")
        self.base = base
        self.master = RedisServer("master", base, self.server)
        self.replica = RedisServer("replica", base, self.server)
        self.sentinels = [RedisServer(f"sentinel{i}", base, self.server) for i in range(1, 4)]
        self.timings: dict[str, float] = {}

    @property
    def addresses(self) -> str:
        """REDIS_SENTINELS: host:port,host:port,..."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def start(self) -> SentinelCluster:
        started = time.monotonic()
        self.master.start()
        self.replica.start("--replicaof", "127.0.0.1", str(self.master.port))
        wait_until(
            lambda: self.replica.client().info("replication")["master_link_status"] == "up",
            30,
            "replica linked to the master",
        )
        for sentinel in self.sentinels:
            config = sentinel.dir / "sentinel.conf"  # sentinel rewrites it: one file each
            config.write_text(
                "\n".join(
                    [
                        f"port {sentinel.port}",
                        "bind 127.0.0.1",
                        f"dir {sentinel.dir}",
                        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master.port} {QUORUM}",
                        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                        f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                        f"sentinel parallel-syncs {MASTER_NAME} 1",
                        "",
                    ]
                )
            )
            sentinel.daemon = Daemon(
                sentinel.name, [self.server, str(config), "--sentinel"], sentinel.dir / "redis.log"
            ).start()
        # Ready when every sentinel knows the replica and the other two sentinels.
        for sentinel in self.sentinels:
            wait_until(lambda s=sentinel: self._sees_all(s), 60, f"{sentinel.name} sees the set")
        self.timings["total"] = time.monotonic() - started
        return self

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

    def restart_as_replica(self, server: RedisServer, master_port: int) -> None:
        """Start a killed server again; sentinel would turn it into a replica anyway."""
        server.start("--replicaof", "127.0.0.1", str(master_port))

    def stop(self) -> None:
        for server in (*self.sentinels, self.replica, self.master):
            if server.daemon is not None:
                server.daemon.stop(10)
