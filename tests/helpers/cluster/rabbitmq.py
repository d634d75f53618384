"""A 3-node RabbitMQ cluster on loopback, beside the system broker (same epmd, other names).

Used by the cluster tier (tests/cluster, one cluster per session) and by the services tests
of AMQP failover (one per module). Nodes start in parallel (each takes 10-20 s on a busy
host); a node is up once its AMQP port accepts connections (no ``rabbitmqctl``, whose
Erlang VM costs seconds per call); then the second and third join the first. The scripts
under /usr/lib/rabbitmq/bin are used directly: /usr/sbin's wrappers switch to the
``rabbitmq`` user and its home, the system node's cookie. Every node is stopped by its
process group id in ``stop``.

Failure detection: a killed node's TCP links close at once on one host, so peers and
clients see it go at once; ``net_ticktime`` (10 s here, 60 s by default) bounds the
case of a host that stops answering without closing its sockets. A quorum queue
elects a new leader among the survivors (Raft) when its leader's node goes.
"""

from __future__ import annotations

import concurrent.futures
import os
import secrets
import subprocess
import time
import uuid
from pathlib import Path

import pika

from tests.helpers.cluster.procs import Daemon, Gone, cluster_port, wait_until
from tests.helpers.ports import reachable
from tests.helpers.require import need

SBIN = "/usr/lib/rabbitmq/bin"
NET_TICKTIME = 10


class RabbitNode:
    def __init__(self, index: int, base: Path, home: Path, tag: str):
        self.index = index
        self.nodename = f"wdapi-{tag}-{index}@localhost"
        self.port, self.dist_port = cluster_port(), cluster_port()
        self.dir = base / f"rabbit{index}"
        self.dir.mkdir(parents=True)
        (self.dir / "enabled_plugins").write_text("[].\n")  # no management plugin
        (self.dir / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's (it names the system node)
        (self.dir / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.1 = 127.0.0.1:{self.port}",
                    f"net_ticktime = {NET_TICKTIME}",
                    "cluster_partition_handling = pause_minority",
                    "",
                ]
            )
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": str(home),  # its .erlang.cookie: shared by the three nodes and rabbitmqctl
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.dir / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbitmq.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        self.daemon: Daemon | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def start(self) -> None:
        self.daemon = Daemon(
            self.nodename, [f"{SBIN}/rabbitmq-server"], self.dir / "stdout.log", env=self.env, cwd=self.dir
        ).start()

    def ctl(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [f"{SBIN}/rabbitmqctl", "-n", self.nodename, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} on {self.nodename}: {result.stderr}{result.stdout}"
            )
        return result.stdout

    def wait_started(self, timeout: float) -> float:
        started = time.monotonic()
        wait_until(self._listening, timeout, f"{self.nodename} listens", interval=0.2)
        return time.monotonic() - started

    def _listening(self) -> bool:
        if self.daemon is None or not self.daemon.alive():
            raise Gone(f"{self.nodename} exited:\n{self.daemon and self.daemon.tail()}")
        # The AMQP listener opens at the end of the boot.
        return reachable("127.0.0.1", self.port, timeout=0.2)

    def accepts(self) -> bool:
        try:
            pika.BlockingConnection(pika.URLParameters(self.url + "?connection_attempts=1")).close()
            return True
        except pika.exceptions.AMQPError:
            return False


class RabbitCluster:
    def __init__(self, base: Path, size: int = 3):
        # Skips (fails under REQUIRE_SERVICES=1) before anything is created.
        for script in ("rabbitmq-server", "rabbitmqctl"):
            if not os.access(f"{SBIN}/{script}", os.X_OK):
                need(f"{SBIN}/{script} is missing (Debian package rabbitmq-server): no RabbitMQ cluster")
        self.base = base
        self.home = base / "home"
        self.home.mkdir(parents=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        tag = uuid.uuid4().hex[:6]
        self.nodes = [RabbitNode(i + 1, base, self.home, tag) for i in range(size)]
        self.timings: dict[str, float] = {}

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def amqp_urls(self) -> str:
        """AMQP_URLS: every node, the first one first."""
        return ",".join(self.urls)

    def start(self, timeout: float = 240) -> RabbitCluster:
        started = time.monotonic()
        for node in self.nodes:
            node.start()
        with concurrent.futures.ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: n.wait_started(timeout), self.nodes))
        self.timings["nodes"] = time.monotonic() - started
        first, *others = self.nodes

        def join(node: RabbitNode) -> None:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.nodename)
            node.ctl("start_app")

        # One at a time: two joins at once can both reset against a changing member list.
        for node in others:
            join(node)
        wait_until(lambda: self.running_nodes(first) == len(self.nodes), 60, "3 running nodes")
        for node in self.nodes:  # start_app reopened the joiners' listeners
            node.wait_started(timeout)
        self.timings["total"] = time.monotonic() - started
        return self

    def running_nodes(self, via: RabbitNode) -> int:
        out = via.ctl("eval", "length(rabbit_nodes:all_running()).", timeout=30)
        return int(out.strip())

    def wait_healthy(self, timeout: float = 60) -> None:
        wait_until(
            lambda: self.running_nodes(self.nodes[-1]) == len(self.nodes), timeout, "all nodes running"
        )

    def connect(self) -> pika.BlockingConnection:
        """A test-side connection: the URLs in turn, as a clustered client would."""
        params = [pika.URLParameters(url + "?connection_attempts=1&socket_timeout=2") for url in self.urls]
        return pika.BlockingConnection(params)

    def kill(self, node: RabbitNode) -> float:
        """SIGKILL ``node``; returns the monotonic time of the kill."""
        assert node.daemon is not None
        node.daemon.kill()
        return time.monotonic()

    def restart(self, node: RabbitNode, timeout: float = 180) -> float:
        """Start a killed node again; seconds until it has rejoined and accepts clients."""
        started = time.monotonic()
        node.start()
        node.wait_started(timeout)
        wait_until(node.accepts, timeout, f"{node.nodename} accepts AMQP")
        return time.monotonic() - started

    def stop(self) -> None:
        """Every node at once (SIGTERM, SIGKILL after 30 s): one node's shutdown is seconds."""
        daemons = [node.daemon for node in self.nodes if node.daemon is not None]
        if daemons:
            with concurrent.futures.ThreadPoolExecutor(len(daemons)) as pool:
                list(pool.map(lambda d: d.stop(30), daemons))
