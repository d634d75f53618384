"""The e2e tier's live server: gunicorn with gunicorn.conf.py and ``run:app`` on a free
loopback port, on SQLite, the real Redis (a private key prefix) and the real RabbitMQ (a
private vhost, deleted afterwards with every queue the clients declared in it)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from tests.helpers.env import clean_env
from tests.helpers.gunicorn import Gunicorn
from tests.helpers.live import request
from tests.helpers.redis_support import TEST_REDIS_URL, redis_test_prefix

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OUTPUT = Path(os.environ.get("E2E_OUTPUT_DIR") or ROOT / "build" / "e2e")  # screenshots, reports
CACHE = ROOT / ".cache" / "clients"  # generated clients, keyed by the spec's hash
API_KEY = "e2e-secret-key"
SPECS = {"swagger2": "/api/v1/swagger.json", "openapi3": "/api/v1/openapi.json"}


def raw_request(port: int, data: bytes, timeout: float = 15.0) -> bytes:
    """Bytes as sent (for requests no HTTP library would build), the whole answer back."""
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
    """gunicorn serving ``run:app`` (migrated SQLite); ``api_keys`` empty: writes need no key."""

    def __init__(self, workdir: Path, *, amqp_url: str, api_keys: tuple[str, ...] = ()):
        self.workdir = workdir
        self.env = {
            "APP_ENV": "test",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "4",
            "GUNICORN_ACCESSLOG": "off",
            "LOG_LEVEL": "warning",
            "DATABASE_URL": f"sqlite:///{workdir / 'e2e.sqlite3'}",
            "REDIS_URL": TEST_REDIS_URL,
            "REDIS_KEY_PREFIX": redis_test_prefix(),
            "AMQP_URL": amqp_url,
            "API_KEYS": ",".join(api_keys),
        }
        self.gunicorn: Gunicorn | None = None

    def start(self) -> None:
        subprocess.run(
            [str(BIN / "flask"), "--app", "run", "db", "upgrade"],
            cwd=ROOT,
            env=clean_env(**self.env),
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.gunicorn = Gunicorn(self.workdir / "gunicorn.log", app="run:app", **self.env)
        self.gunicorn.wait_ready(timeout=60)
        self.port = self.gunicorn.port
        self.base = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.base}/api/v1"

    def stop(self) -> None:
        if self.gunicorn:
            self.gunicorn.stop()

    def spec(self, kind: str) -> dict | None:
        """The served document (``swagger2`` or ``openapi3``), or None while it is not served."""
        response = request(self.port, "GET", SPECS[kind])
        if response.status == 404:
            return None
        assert response.status == 200, response.body
        return response.json()


def spec_hash(spec: dict, *extra: str) -> str:
    text = json.dumps(spec, sort_keys=True) + "".join(extra)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generated(
    kind: str, spec: dict, tool: str, generate, cache: Path = CACHE, *, options: tuple[str, ...] = ()
) -> Path:
    """The client ``generate(spec_file, out_dir)`` makes from ``spec``, cached by the hash of the
    spec and the generator's ``options`` (the tool versions are pinned): generation starts a JVM
    or Node, later runs reuse it."""
    out = cache / f"{tool}-{kind}-{spec_hash(spec, *options)}"
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
