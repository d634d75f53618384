"""Run the shipped nginx configuration (deploy/nginx) in front of test upstreams.

The configuration is rendered into a private prefix directory and nginx runs in the
foreground from there (``nginx -p <dir> -c <dir>/conf/nginx.conf -g 'daemon off;'``),
on a free port, with no file outside that directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from string import Template

from tests.helpers.loadgen import wait_until_listening
from tests.helpers.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "nginx"
# As docs/operations.md ("nginx") renders each upstream server.
SERVER_PARAMETERS = "max_fails=1 fail_timeout=3s"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def render(prefix: Path, *, listen: int, metrics_listen: int, upstreams: list[int]) -> Path:
    """Write conf/nginx.conf and conf/wdapi.conf under ``prefix``; return the main file."""
    conf = prefix / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (prefix / "temp").mkdir(exist_ok=True)
    values = {
        "WDAPI_LISTEN": f"127.0.0.1:{listen}",
        "WDAPI_METRICS_LISTEN": f"127.0.0.1:{metrics_listen}",
        "WDAPI_UPSTREAM_SERVERS": " ".join(
            f"server 127.0.0.1:{port} {SERVER_PARAMETERS};" for port in upstreams
        ),
    }
    site = Template((DEPLOY / "wdapi.conf").read_text()).safe_substitute(values)
    (conf / "wdapi.conf").write_text(site)
    main = (DEPLOY / "nginx.conf").read_text()
    if os.geteuid() == 0:
        # As root, workers would switch to "nobody", who cannot enter a private temp dir.
        main = "user root;\n" + main
    (conf / "nginx.conf").write_text(main)
    return conf / "nginx.conf"


class Nginx:
    def __init__(self, prefix: Path, upstreams: list[int]):
        self.binary = nginx_binary()
        if self.binary is None:
            raise RuntimeError("nginx is not installed (make test installs it: see Makefile)")
        self.prefix = Path(prefix)
        self.port = free_port()
        self.metrics_port = free_port()  # the internal listener (Prometheus)
        self.upstreams = upstreams
        self.config = render(
            self.prefix, listen=self.port, metrics_listen=self.metrics_port, upstreams=upstreams
        )
        self.log_path = self.prefix / "nginx.out"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", f"{self.prefix}/", "-c", str(self.config), *extra]

    def check(self) -> str:
        """``nginx -t`` on the rendered configuration; raises with its output on failure."""
        done = subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        return done.stderr

    def start(self) -> Nginx:
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                self.command("-g", "daemon off;"), stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_until_listening(self.port, timeout=15, proc=self.proc):
            self.stop()
            raise RuntimeError(f"nginx did not start:\n{self.output()}")
        return self

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
