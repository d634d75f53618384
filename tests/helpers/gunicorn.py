"""gunicorn with the project's gunicorn.conf.py on a free loopback port, for the e2e tier.

The child gets an explicit environment: the shell's app settings never reach it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.env import clean_env
from tests.helpers.live import request
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
