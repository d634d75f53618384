"""A RabbitMQ cluster of the test's own: N nodes on free loopback ports, in a temporary dir.

Each node is ``rabbitmq-server`` run directly (not the /usr/sbin wrapper, which switches user),
with its own config (so the system broker's listener is not read), no plugins, and the
temporary dir as HOME, so the nodes and rabbitmqctl share a cookie of their own. The
beam process replaces the script (``RUNNING_UNDER_SYSTEMD``), so its pid is the node's:
``kill`` is a SIGKILL of exactly that node. ``stop`` ends every node by pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers.ports import free_port, reachable
from tests.helpers.require import need

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def require_rabbitmq_server() -> None:
    if not (os.access(SERVER, os.X_OK) and os.access(CTL, os.X_OK)):
        need(f"{SERVER} is not installed: RabbitMQ cluster not tested")


class RabbitCluster:
    def __init__(self, size: int = 3):
        self.dir = Path(tempfile.mkdtemp(prefix="wdapi-rmq-"))
        tag = self.dir.name.rsplit("-", 1)[-1].lower()
        self.names = [f"wdca{tag}{i}@localhost" for i in range(size)]
        self.ports = [free_port() for _ in range(size)]
        self.processes: list[subprocess.Popen | None] = [None] * size

    def url(self, i: int) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.ports[i]}/%2F"

    @property
    def urls(self) -> str:
        """The AMQP_URLS setting."""
        return ",".join(self.url(i) for i in range(len(self.names)))

    def _env(self, i: int) -> dict[str, str]:
        base = self.dir / f"n{i}"
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.dir),  # the cookie of this cluster
            "LANG": "C.UTF-8",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RUNNING_UNDER_SYSTEMD": "true",  # exec the VM: the pid is the node's
            "RABBITMQ_NODENAME": self.names[i],
            "RABBITMQ_NODE_PORT": str(self.ports[i]),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
        }

    def ctl(self, i: int, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            [CTL, "-n", self.names[i], *args],
            env=self._env(i),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr or result.stdout}")
        return result.stdout

    def _wait_listening(self, i: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not reachable("127.0.0.1", self.ports[i], timeout=0.2):
            process = self.processes[i]
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"RabbitMQ node {self.names[i]} exited; see {self.dir}/n{i}/out.log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.names[i]} did not start within {timeout} s")
            time.sleep(0.2)

    def start(self, timeout: float = 90) -> RabbitCluster:
        for i in range(len(self.names)):
            base = self.dir / f"n{i}"
            base.mkdir()
            (base / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{self.ports[i]}\n")
            (base / "enabled_plugins").write_text("[].\n")
            (base / "rabbitmq-env.conf").write_text("")
            with open(base / "out.log", "wb") as log:
                self.processes[i] = subprocess.Popen(
                    [SERVER], env=self._env(i), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
        for i in range(len(self.names)):
            self._wait_listening(i, timeout)
        for i in range(1, len(self.names)):
            self.ctl(i, "stop_app")
            self.ctl(i, "join_cluster", self.names[0])
            self.ctl(i, "start_app")
        status = self.ctl(0, "cluster_status")
        if any(name not in status for name in self.names):
            raise RuntimeError(f"the cluster did not form: {status}")
        for i in range(len(self.names)):
            self._wait_listening(i, timeout)
        return self

    def kill(self, i: int) -> float:
        """SIGKILL node ``i``; returns the monotonic time of the kill."""
        process = self.processes[i]
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        return time.monotonic()

    def stop(self) -> None:
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.terminate()  # the VM stops gracefully on SIGTERM
        for process in self.processes:
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
