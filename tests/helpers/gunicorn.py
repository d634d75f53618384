"""gunicorn with the project's gunicorn.conf.py on a free loopback port, for the e2e tier.

The child gets an explicit environment: the shell's app settings never reach it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.env import clean_env
from tests.helpers.live import request
from tests.helpers.loadgen import API_KEY, wait_for
from tests.helpers.loadgen import request as load_request
from tests.helpers.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
# The app of the live tests: run's app plus one slow route (tests/helpers/live_app.py).
LIVE_APP = "tests.helpers.live_app:app"


class Gunicorn:
    """One gunicorn arbiter in its own process group, its output in ``log_path``."""

    def __init__(self, log_path: Path, app: str = LIVE_APP, **env: str):
        if not GUNICORN.exists():
            pytest.fail(f"gunicorn is not installed at {GUNICORN}")
        self.port = free_port()
        self.output = open(log_path, "w+")  # closed by stop()
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", app],
            cwd=ROOT,
            env=clean_env(BIND=f"127.0.0.1:{self.port}", GUNICORN_CONTROL_SOCKET="off", **env),
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as in a terminal
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if request(self.port, "GET", "/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{self.read_output()}")
            time.sleep(0.2)

    def read_output(self) -> str:
        self.output.flush()
        self.output.seek(0)
        return self.output.read()

    def send_signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """The settings of a production instance, with test services and a test key."""
    return clean_env(
        **{
            "APP_ENV": "prod",
            "SECRET_KEY": secrets.token_hex(16),
            "API_KEYS": API_KEY,
            "DATABASE_URL": database_url,
            "LOG_FORMAT": "text",
            "GUNICORN_ACCESSLOG": "off",
            "GUNICORN_CONTROL_SOCKET": "off",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "4",
            "GUNICORN_GRACEFUL_TIMEOUT": "15",
            **extra,
        }
    )


class Instance:
    """A production-like instance (run:app, APP_ENV=prod) that a test can signal and restart."""

    def __init__(self, workdir: Path, env: dict[str, str], *, app: str = "run:app", port: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.env = {**env, "BIND": f"127.0.0.1:{self.port}"}
        self.app = app
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / f"gunicorn-{self.port}.out"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self, timeout: float = 30) -> Instance:
        if not GUNICORN.exists():
            raise RuntimeError(f"gunicorn is not installed at {GUNICORN}")
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [str(GUNICORN), "-c", "gunicorn.conf.py", self.app],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not wait_for(self._ready, timeout, interval=0.1):
            self.stop()
            raise RuntimeError(f"gunicorn did not start:\n{self.output()[-4000:]}")
        return self

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.output()[-4000:]}")
        try:
            return load_request(self.port, "GET", "/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return []
        return sorted(int(pid) for pid in children)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def __enter__(self) -> Instance:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for_new_workers(server: Instance, old: set[int], count: int, timeout: float = 30) -> set[int]:
    """Wait until ``count`` workers not in ``old`` run; return them."""
    wait_for(lambda: len(set(server.worker_pids()) - old) >= count, timeout)
    time.sleep(0.2)
    return set(server.worker_pids()) - old


def start_relay(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """``flask outbox relay`` in its own process, as beside gunicorn in production."""
    flask = Path(sys.executable).with_name("flask")
    with open(log_path, "a") as log:
        return subprocess.Popen(
            [str(flask), "--app", "run", "outbox", "relay"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
