"""Child processes of the cluster fixtures: each in its own process group, stopped by its id."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from core.errors import Unavailable
from tests.helpers.require import need

T = TypeVar("T")

# Below Linux's ephemeral range (32768-60999): a port handed out here stays free until its server
# binds it, even seconds later, because no outgoing connection (Galera's own, the app's, another
# test run's) is ever given one of these; tests/helpers/ports.free_port's can be.
PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()


def cluster_port() -> int:
    """A loopback port below the ephemeral range that nothing listens on now."""
    while True:
        port = random.randint(*PORT_RANGE)
        if port in _handed_out or port == 25672:  # the system RabbitMQ's distribution port
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def binary(name: str, *candidates: str) -> str:
    """The path of ``name`` (PATH, then ``candidates``), or skip (fail under REQUIRE_SERVICES=1)."""
    found = shutil.which(name) or next((c for c in candidates if os.access(c, os.X_OK)), None)
    if found is None:
        need(f"{name} is not installed: the cluster fixtures start it from the machine's packages")
    return found


class Gone(RuntimeError):
    """The process waited for has exited: waiting longer is pointless."""


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> float:
    """Seconds until ``predicate()`` holds; RuntimeError naming ``what`` on timeout. A predicate
    that raises is polled again (a server half-way up answers with errors), unless it raises Gone."""
    started = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - started
        except Gone:
            raise
        except Exception:
            pass
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


class Daemon:
    """One server process in its own session, so a kill reaches its children (rsync SST,
    Erlang's helpers) too; output goes to ``log``."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None, cwd=None):
        self.name, self.argv, self.log, self.env, self.cwd = name, argv, log, env, cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> Daemon:
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group: the fault, a crash without any clean-up."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; a no-op when not running."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Helpers left in the group (an SST's rsync, Erlang's port programs) go too.
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def until_available(action: Callable[[], T], timeout: float, interval: float = 0.05) -> tuple[T, float]:
    """Call ``action`` until it returns without Unavailable: its result and the monotonic time
    it succeeded (a failover's recovery, seen from the app's services)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action(), time.monotonic()
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)
