"""Building blocks of the benchmark: the seeded database, the servers under test, wrk and psutil.

Used by ``bench/run.py`` (the side-by-side table) and ``bench/profile.py`` (py-spy profiles).
Everything runs on loopback against the local MariaDB and Redis; only our own databases
(``wdapi_bench*``) and Redis keys (a private prefix) are touched.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pymysql
import redis

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# gunicorn and the apps it serves run from a production install (requirements.lock only,
# `make bench` builds it): the bench's and the tests' packages are not in a deployed worker,
# and some (opentelemetry-api, which FastAPI needs) are imported by redis-py when present.
# Absolute (not resolved: a venv's python is a symlink): BENCH_BEFORE serves from another directory.
SERVED_BIN = Path(os.environ.get("BENCH_SERVED_BIN") or BIN).absolute()
RESULTS = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "wrk" / "load.lua"
ID_FORMAT = "b{:07d}"  # seeded ids; bench/wrk/load.lua builds the same ones
PER_PAGE = 20
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = uuid.uuid4().hex[:8]  # this run: POSTed ids, Redis prefix, API key
API_KEY = f"bench-key-{TOKEN}"
# The app's settings that would otherwise come from the caller's shell.
SCRUBBED_PREFIXES = (
    *("APP_", "GUNICORN_", "WEB_CONCURRENCY", "BIND", "REDIS_", "AMQP_", "RABBIT_", "RATELIMIT_"),
    *("API_", "LOG_", "DB_", "CACHE_", "CORS_", "READY_", "TRUSTED_", "SECRET_KEY", "DATABASE_URL"),
)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the database -------------------------------------------------------------------------


@dataclass
class Database:
    name: str
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"

    @property
    def url(self) -> str:
        return f"mysql+pymysql://{self.user}@{self.host}:{self.port}/{self.name}?charset=utf8mb4"

    def connect(self, database: str | None = None) -> pymysql.Connection:
        return pymysql.connect(
            host=self.host, port=self.port, user=self.user, database=database, autocommit=True
        )

    def prepare(self, rows: int, app_env: dict[str, str], fresh: bool = False) -> str:
        """Migrate with the project's own ``flask db upgrade`` and seed ``rows`` records.

        A database already holding exactly the seeded rows is reused (a million rows take a
        while to insert): rows POSTed by an earlier run and the outbox are emptied instead.
        Returns what was done, for the report.
        """
        if not self.name.startswith("wdapi_bench"):
            raise SystemExit(f"refusing to touch database {self.name!r}: bench databases are wdapi_bench*")
        if not fresh and self._reusable(rows, app_env):
            return "reused"
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
                cur.execute(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        finally:
            conn.close()
        if not self._upgrade(app_env):
            raise SystemExit("flask db upgrade failed on a fresh database (see above)")
        conn = self.connect(self.name)
        try:
            self._seed(conn, rows)
        finally:
            conn.close()
        return "seeded"

    def _reusable(self, rows: int, app_env: dict[str, str]) -> bool:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                if not cur.execute("SHOW DATABASES LIKE %s", (self.name,)):
                    return False
        finally:
            conn.close()
        if not self._upgrade(app_env, quiet=True):
            return False  # a migration history we do not know: start again
        conn = self.connect(self.name)
        try:
            with conn.cursor() as cur:
                cur.execute("DELETE FROM wdtest WHERE id NOT LIKE 'b%'")
                cur.execute("SELECT COUNT(*) FROM wdtest")
                if cur.fetchone()[0] != rows:
                    return False
                cur.execute("DELETE FROM outbox")
                return True
        finally:
            conn.close()

    def _upgrade(self, app_env: dict[str, str], quiet: bool = False) -> bool:
        env = {**app_env, "FLASK_APP": os.environ.get("BENCH_FLASK_APP", "run")}
        done = subprocess.run(
            [str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode and not quiet:
            sys.stderr.write(done.stdout + done.stderr)
        return done.returncode == 0

    @staticmethod
    def _seed(conn: pymysql.Connection, rows: int, batch: int = 5000) -> None:
        # PyMySQL turns executemany of one INSERT ... VALUES into multi-row statements.
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        with conn.cursor() as cur:
            cur.execute("SET SESSION unique_checks = 0")
            for start in range(0, rows, batch):
                values = [
                    (ID_FORMAT.format(i), f"name{i:07d}", i % 100, now, now)
                    for i in range(start, min(start + batch, rows))
                ]
                cur.executemany(
                    "INSERT INTO wdtest (id, name, age, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)",
                    values,
                )
            cur.execute("ANALYZE TABLE wdtest")
            cur.fetchall()


# -- the servers under test ---------------------------------------------------------------


@dataclass
class Server:
    """One server under test: a command line, its environment, and its process tree."""

    name: str
    label: str
    argv: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    cwd: Path = ROOT  # another checkout of the project (``before``) runs from its own

    @property
    def is_project(self) -> bool:
        return self.name.startswith("wdapi")

    def start(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{self.name}.log"
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        env = {k: v.replace("{port}", str(self.port)) for k, v in self.env.items()}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _, _ = request(self.port, "GET", "/healthz", timeout=2)
                if status == 200 and len(self.workers()) >= 2:
                    self.check_worker_class()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name} did not answer /healthz on port {self.port}:\n{self.log_tail()}")

    def check_worker_class(self) -> None:
        """gunicorn says which worker class it really runs; it must be the one we asked for."""
        wanted = self.env.get("GUNICORN_WORKER_CLASS")
        if not wanted:
            return
        used = [
            line for line in self.log_path.read_text(errors="replace").splitlines() if "Using worker:" in line
        ]
        # gunicorn.conf.py runs gthread as its subclass (/healthz on a thread of its own).
        accepted = {wanted, "serving.workers.ThreadWorker"} if wanted == "gthread" else {wanted}
        if used and used[0].rstrip().rsplit("Using worker: ", 1)[-1] not in accepted:
            raise SystemExit(f"{self.name}: asked for {wanted} workers, gunicorn says {used[0]!r}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def tree(self) -> list[psutil.Process]:
        master = psutil.Process(self.process.pid)
        return [master, *master.children(recursive=True)]

    def workers(self) -> list[psutil.Process]:
        """The processes that serve requests: the master's children, minus helpers."""
        try:
            children = psutil.Process(self.process.pid).children()
            return [p for p in children if "resource_tracker" not in " ".join(p.cmdline())]
        except psutil.Error:
            return []

    def cpu(self) -> dict[int, float]:
        """CPU seconds (user + system) of each process of the tree, by pid."""
        times = {}
        for proc in self.tree():
            try:
                t = proc.cpu_times()
                times[proc.pid] = t.user + t.system
            except psutil.Error:
                pass
        return times

    def peak_rss_mib(self) -> float:
        """The largest peak resident set (VmHWM) among the workers, in MiB."""
        peaks = []
        for proc in self.workers():
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
        return max(peaks, default=0.0)


def request(port: int, method: str, path: str, body=None, timeout: float = 10) -> tuple[int, dict, bytes]:
    headers = {"X-API-Key": API_KEY}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def checkout(revision: str) -> Path:
    """The project at ``revision`` (``git archive``), in the temporary directory (not in the
    tree, which tests scan): a before/after comparison runs both side by side, in the same rounds."""
    target = Path(tempfile.gettempdir()) / f"wdapi-bench-before-{revision.replace('/', '-')}"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def gunicorn(app: str, *options: str) -> list[str]:
    return [str(SERVED_BIN / "gunicorn"), *options, app]


def project_env(database: Database, *, worker_class: str, cache: bool, redis_prefix: str) -> dict[str, str]:
    """The project in production mode, every feature on, as gunicorn.conf.py reads it.
    ``worker_class``: gunicorn's, optionally with a worker count (``gthread:5``; default 2)."""
    worker_class, _, workers = worker_class.partition(":")
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.update(
        APP_ENV="prod",
        SECRET_KEY=f"bench-secret-{uuid.uuid4().hex}",
        API_KEYS=API_KEY,
        DATABASE_URL=database.url,
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=redis_prefix,
        # Warm over every id before measuring, and no entry expires during the run.
        CACHE_TTL="3600" if cache else "0",
        LOG_LEVEL="INFO",
        GUNICORN_ACCESSLOG="on",
        BIND="127.0.0.1:{port}",
        WEB_CONCURRENCY=workers or "2",
        GUNICORN_WORKER_CLASS=worker_class,
        # gunicorn runs "sync" as gthread when threads > 1 (the shipped default is 4).
        **({"GUNICORN_THREADS": "1"} if worker_class == "sync" else {}),
        # Several instances run at once: no shared control socket under $HOME.
        GUNICORN_CONTROL_SOCKET="off",
        # Rate limits stay on but must not answer 429 to a benchmark (Flask-Limiter's names).
        RATELIMIT_DEFAULT="1000000 per second",
        RATELIMIT_APPLICATION="1000000 per second",
    )
    env.update(extra_env("BENCH_APP_ENV"))
    return env


def drop_redis_keys(prefix: str) -> None:
    """Delete this run's cache entries (our private prefix only)."""
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def extra_env(name: str) -> dict[str, str]:
    """``NAME="K=V K2=V2"``: settings a user adds to the project's environment."""
    pairs = [item.partition("=") for item in os.environ.get(name, "").split()]
    return {k: v for k, sep, v in pairs if sep}


def mariadb_process() -> psutil.Process | None:
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("mariadbd", "mysqld"):
            return proc
    return None


def cpu_seconds(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


# -- wrk ----------------------------------------------------------------------------------


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return path


def wrk(port: int, *, mode: str, count: int, connections: int, seconds: int, query: str = "") -> dict:
    """Run wrk with bench/wrk/load.lua; returns its BENCH summary (requests, latency, errors)."""
    threads = min(2, connections)
    argv = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
        "--",
        mode,
        str(count),
        uuid.uuid4().hex[:8],
        API_KEY,
        query,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise SystemExit(f"wrk gave no summary (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def warm(port: int, *, mode: str, count: int, query: str = "") -> None:
    """Request each id ("warm-id") or list page ("warm-list") once, 16 connections at a time."""
    argv = [ensure_wrk(), "-t1", "-c16", "-d600s", "-s", str(LUA), f"http://127.0.0.1:{port}"]
    done = subprocess.run(
        [*argv, "--", mode, str(count), "-", API_KEY, query], capture_output=True, text=True, timeout=660
    )
    if done.returncode:
        raise SystemExit(f"wrk {mode} failed ({done.returncode}): {done.stderr}")


def failures(summary: dict) -> int:
    """Non-2xx answers (wrk counts status >= 400) plus socket errors and timeouts."""
    return sum(summary[k] for k in ("status", "connect", "read", "write", "timeout"))
