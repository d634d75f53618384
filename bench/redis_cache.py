"""p50 latency of GET /api/v1/wdtests/<id>: cache HIT vs MISS vs cache off.

Starts its own gunicorn (gunicorn.conf.py, 2 gthread workers, APP_ENV=prod) on a free
loopback port, once with the cache on and once with CACHE_TTL=0, against MariaDB at
127.0.0.1:3306 (database ``wdapi_bench_redis``, recreated) or, when that is not
reachable, a temporary SQLite file; Redis is the local one with a private key prefix
that is deleted at the end. One keep-alive client sends sequential requests, so the
figures are per-request latency, not throughput. Bounded: about 20 seconds.

    .venv/bin/python -m bench.redis_cache [--requests N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]

MYSQL_SERVER = "mysql+pymysql://root@127.0.0.1:3306/"
MYSQL_DB = "wdapi_bench_redis"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
RECORD = "/api/v1/wdtests/bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def database_url(tmp: str) -> str:
    if reachable(3306):
        engine = create_engine(MYSQL_SERVER, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{MYSQL_DB}`"))
            conn.execute(text(f"CREATE DATABASE `{MYSQL_DB}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
        engine.dispose()
        return f"{MYSQL_SERVER}{MYSQL_DB}?charset=utf8mb4"
    return f"sqlite:///{tmp}/bench.sqlite3"


def migrate(url: str) -> None:
    from flask_migrate import upgrade

    from extensions import db
    from factory import create_app

    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ECHO": False})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()


class Server:
    """gunicorn run:app on a free loopback port."""

    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        env = {**os.environ, **env, "BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": "2"}
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "run:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not reachable(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.1)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def request(conn, method: str, path: str, body=None) -> tuple[int, dict, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def measure(conn, n: int, expect: str, before=None) -> list[float]:
    """Latencies in ms of n GETs, each checked for ``X-Cache: expect``; ``before`` runs untimed."""
    times = []
    for _ in range(n):
        if before:
            before()
        started = time.perf_counter()
        status, headers, _ = request(conn, "GET", RECORD)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200 or headers.get("X-Cache") != expect:
            raise SystemExit(f"expected 200 X-Cache {expect}, got {status} {headers.get('X-Cache')}")
    return times


def summary(name: str, times: list[float]) -> str:
    q = statistics.quantiles(times, n=100)
    return f"{name:<26} n={len(times):<5} p50={statistics.median(times):6.3f} ms  p90={q[89]:6.3f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per case")
    args = parser.parse_args()
    prefix = f"wdapi-bench-{uuid.uuid4().hex[:8]}:"
    raw = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    raw.ping()
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url(tmp)
        migrate(url)
        env = {
            "APP_ENV": "prod",
            "SECRET_KEY": uuid.uuid4().hex,
            "API_AUTH_DISABLED": "true",
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
            "LOG_LEVEL": "WARNING",
            "GUNICORN_ACCESSLOG": "",
        }
        results = []
        server = Server(env)
        try:
            conn = server.connection()
            status, _, body = request(
                conn, "POST", "/api/v1/wdtests", {"id": "bench", "name": "wade", "age": 20}
            )
            assert status == 201, body
            entry = f"{prefix}cache:wdtest:v1:bench"
            measure(conn, 200, "MISS", before=lambda: raw.delete(entry))  # warm-up
            results.append(
                summary("MISS (DB + fill)", measure(conn, args.requests, "MISS", lambda: raw.delete(entry)))
            )
            measure(conn, 200, "HIT")
            results.append(summary("HIT (Redis only)", measure(conn, args.requests, "HIT")))
            conn.close()
        finally:
            server.stop()
        server = Server({**env, "CACHE_TTL": "0"})
        try:
            conn = server.connection()
            measure(conn, 200, "MISS")
            results.append(summary("cache off (CACHE_TTL=0)", measure(conn, args.requests, "MISS")))
            conn.close()
        finally:
            server.stop()
        names = list(raw.scan_iter(match=f"{prefix}*"))
        if names:
            raw.delete(*names)
        if url.startswith("mysql"):
            engine = create_engine(MYSQL_SERVER, isolation_level="AUTOCOMMIT")
            with engine.connect() as c:
                c.execute(text(f"DROP DATABASE IF EXISTS `{MYSQL_DB}`"))
            engine.dispose()
    print(f"GET {RECORD} via gunicorn (2 gthread workers) on loopback; database: {url.split(':')[0]}")
    print("\n".join(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
