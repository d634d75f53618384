"""A Redis master, one replica and three sentinels of the test's own, on free loopback ports.

The replica replicates through a ``FaultProxy``, so a test can black-hole replication and
then kill the master: the writes in between are lost, as asynchronous replication loses
them in a real failover. Every process is stopped by its pid in ``stop``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.helpers.faultproxy import FaultProxy
from tests.helpers.ports import free_port
from tests.helpers.require import need

MASTER_NAME = "wdapi-test"
DOWN_AFTER_MS = 1000


def require_redis_sentinel() -> None:
    """Skip (or fail under REQUIRE_SERVICES=1) without the redis-server binary."""
    if shutil.which("redis-server") is None:
        need("redis-server is not installed: Sentinel failover not tested")


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class SentinelGroup:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="wdapi-sentinel-"))
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[str, subprocess.Popen] = {}
        self.link: FaultProxy | None = None  # replica -> master replication

    @property
    def sentinels(self) -> str:
        """The REDIS_SENTINELS setting."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def _server(self, name: str, port: int, *extra: str) -> None:
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--save", "", "--appendonly", "no", "--dbfilename", f"{name}.rdb", *extra]
        self._spawn(name, args)

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115  # kept open by the child
        self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_connect_timeout=0.3, socket_timeout=1)

    def start(self) -> SentinelGroup:
        # No 5 s wait before the first sync: the replica is online at once.
        self._server("master", self.master_port, "--repl-diskless-sync-delay", "0")
        self.link = FaultProxy("127.0.0.1", self.master_port).start()
        # The replica announces its own port; only its link to the master goes through the proxy.
        self._server("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.link.port))
        master = self.client(self.master_port)
        online = lambda: master.info("replication").get("slave0", {}).get("state") == "online"  # noqa: E731
        _wait(online, 10, "the replica")
        for i, port in enumerate(self.sentinel_ports):
            conf = self.dir / f"sentinel{i}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            )
            self._spawn(f"sentinel{i}", ["redis-server", str(conf), "--sentinel"])
        for port in self.sentinel_ports:  # each knows the replica and the two others: failover possible
            sentinel = self.client(port)
            _wait(
                lambda s=sentinel: (
                    (state := s.sentinel_master(MASTER_NAME))["num-slaves"] == 1
                    and state["num-other-sentinels"] == 2
                ),
                20,
                f"sentinel on {port} to discover the group",
            )
            sentinel.close()
        master.close()
        return self

    def master_address(self) -> tuple[str, int]:
        sentinel = self.client(self.sentinel_ports[0])
        try:
            host, port = sentinel.sentinel_get_master_addr_by_name(MASTER_NAME)
            return host, int(port)
        finally:
            sentinel.close()

    def kill_master(self) -> float:
        """SIGKILL the master; returns the monotonic time of the kill."""
        process = self.processes["master"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=5)
        return time.monotonic()

    def wait_for_promotion(self, timeout: float = 30) -> float:
        """Wait until the sentinels name the replica and it answers as master; returns the time."""
        replica = self.client(self.replica_port)
        try:
            _wait(lambda: self.master_address()[1] == self.replica_port, timeout, "the promotion")
            _wait(lambda: replica.info("replication")["role"] == "master", timeout, "the new master")
        finally:
            replica.close()
        return time.monotonic()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.link is not None:
            self.link.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
