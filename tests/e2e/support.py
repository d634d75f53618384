"""The e2e tier's live server: gunicorn with gunicorn.conf.py and ``run:app`` on a free
loopback port, on SQLite, the real Redis (a private key prefix) and the real RabbitMQ (a
private vhost, deleted afterwards with every queue the clients declared in it)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.ops_support import free_port
from tests.redis_support import TEST_REDIS_URL, redis_test_prefix

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OUTPUT = Path(os.environ.get("E2E_OUTPUT_DIR", ROOT / "build" / "e2e"))  # screenshots, reports
CACHE = ROOT / ".cache" / "clients"  # generated clients, keyed by the spec's hash
API_KEY = "e2e-secret-key"
SPECS = {"swagger2": "/api/v1/swagger.json", "openapi3": "/api/v1/openapi.json"}
# Settings the app reads from the environment: the developer's shell must not leak in.
APP_ENV_NAMES = ("DATABASE_URL", "SECRET_KEY", "LOG_LEVEL", "AMQP_URL", "CACHE_TTL", "WDTEST_EVENTS_EXCHANGE")


def request(port: int, method: str, path: str, body: bytes | None = None, headers=None, timeout=15.0):
    """One request on its own connection: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_request(port: int, data: bytes, timeout: float = 15.0) -> bytes:
    """Bytes as sent (for requests no HTTP library would build), the full answer back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


class RabbitVhost:
    """A vhost of our own: whatever queues the clients and fuzzers declare vanish with it."""

    def __init__(self):
        self.name = f"wdapi-test-{uuid.uuid4().hex[:12]}"

    @staticmethod
    def available() -> bool:
        return shutil.which("rabbitmqctl") is not None

    def create(self) -> None:
        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")

    def delete(self) -> None:
        rabbitmqctl("delete_vhost", self.name)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:5672/{self.name}"


class LiveServer:
    """gunicorn serving the real app; ``api_keys`` empty means writes need no key."""

    def __init__(self, workdir: Path, *, amqp_url: str, api_keys: tuple[str, ...] = ()):
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.base}/api/v1"
        self.api_keys = api_keys
        self.env = {
            **{k: v for k, v in os.environ.items() if not self._app_setting(k)},
            "APP_ENV": "test",
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "4",
            "GUNICORN_CONTROL_SOCKET": "off",
            "GUNICORN_ACCESSLOG": "off",
            "LOG_LEVEL": "warning",
            "DATABASE_URL": f"sqlite:///{workdir / 'e2e.sqlite3'}",
            "REDIS_URL": TEST_REDIS_URL,
            "REDIS_KEY_PREFIX": redis_test_prefix(),
            "AMQP_URL": amqp_url,
            "API_KEYS": ",".join(api_keys),
        }
        self.process: subprocess.Popen | None = None
        self.log = workdir / "gunicorn.log"

    @staticmethod
    def _app_setting(name: str) -> bool:
        prefixes = ("APP_", "API_", "REDIS_", "RABBIT_", "GUNICORN_", "LOG_", "READY_", "CORS_", "OUTBOX_")
        return name.startswith(prefixes) or name in APP_ENV_NAMES

    def start(self, timeout: float = 60) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(BIN / "flask"), "--app", "run", "db", "upgrade"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        out = open(self.log, "w")  # gunicorn keeps its own copy of the descriptor
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "run:app"],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if request(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def spec(self, kind: str) -> dict | None:
        """The served document (``swagger2`` or ``openapi3``), or None while it is not served."""
        status, _, body = request(self.port, "GET", SPECS[kind])
        if status == 404:
            return None
        assert status == 200, body
        return json.loads(body)


def spec_hash(spec: dict, *extra: str) -> str:
    text = json.dumps(spec, sort_keys=True) + "".join(extra)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generated(kind: str, spec: dict, tool: str, generate, cache: Path = CACHE) -> Path:
    """The client ``generate(spec_file, out_dir)`` makes from ``spec``, cached by the spec's hash
    (the tool versions are pinned): generation starts a JVM or Node, later runs reuse it."""
    out = cache / f"{tool}-{kind}-{spec_hash(spec)}"
    if not (out / ".complete").exists():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        spec_file = out / "spec.json"
        spec_file.write_text(json.dumps(spec))
        generate(spec_file, out)
        (out / ".complete").touch()
    return out


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """A tool run; its output becomes the failure message."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{command[:3]} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result
