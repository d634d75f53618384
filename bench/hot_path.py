"""Hot-path throughput: wdapi vs a bare Flask + PyMySQL app, measured side by side.

Both run under gunicorn with the same gunicorn.conf.py, worker and thread counts, against the
same MariaDB table (database ``wdapi_bench``, recreated). For each of GET /wdtests/<id> and the
20-row list page the rounds alternate between the two apps, and the report gives the median
requests/s of each and their ratio (target: wdapi >= 0.8x bare). Loopback only, about a minute.

    .venv/bin/python -m bench.hot_path [--seconds 3] [--rounds 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parents[1]

DB_NAME = "wdapi_bench"
DB_URL = f"mysql+pymysql://root@127.0.0.1:3306/{DB_NAME}?charset=utf8mb4"
ROWS = 200
PATHS = {"GET /wdtests/<id>": "/api/v1/wdtests/id-00042", "GET /wdtests (20 rows)": "/api/v1/wdtests"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database() -> None:
    conn = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        cur.execute(f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    conn.close()
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "run", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "APP_ENV": "test", "DATABASE_URL": DB_URL},
        check=True,
        capture_output=True,
    )
    conn = pymysql.connect(host="127.0.0.1", user="root", database=DB_NAME, autocommit=True)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO wdtest (id, name, age, created_at, updated_at) VALUES (%s, %s, %s, NOW(6), NOW(6))",
            [(f"id-{i:05d}", f"name{i}", i % 100) for i in range(ROWS)],
        )
    conn.close()


def start(app_spec: str, port: int, extra_env: dict) -> subprocess.Popen:
    env = {
        **os.environ,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        **extra_env,
    }
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py", app_spec],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", PATHS["GET /wdtests/<id>"])
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"{app_spec} did not answer on port {port}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)


def load(port: int, path: str, seconds: float, concurrency: int) -> float:
    """Requests/s over ``seconds`` from ``concurrency`` keep-alive clients; non-200 aborts."""
    counts = [0] * concurrency
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(f"{path}: {response.status}")
                return
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return sum(counts) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    prepare_database()
    ours_env = {
        "APP_ENV": "prod",
        "SECRET_KEY": "bench-only-secret",
        "API_AUTH_DISABLED": "true",
        "DATABASE_URL": DB_URL,
    }
    bare_env = {"BARE_DB_NAME": DB_NAME}
    apps = {
        "bare": ("bench.bare_app:app", bare_env),
        "wdapi": ("run:app", ours_env),
        # The same app with the Redis read cache off: the database path alone.
        "wdapi-nocache": ("run:app", {**ours_env, "CACHE_TTL": "0"}),
    }
    results: dict[tuple[str, str], list[float]] = {}
    procs = {}
    try:
        for name, (spec, env) in apps.items():
            procs[name] = (port := free_port(), start(spec, port, env))
        for label, path in PATHS.items():
            for port, _ in procs.values():
                load(port, path, 1.0, args.concurrency)  # warm-up: pools, caches
            for _ in range(args.rounds):
                for name, (port, _) in procs.items():
                    rate = load(port, path, args.seconds, args.concurrency)
                    results.setdefault((name, label), []).append(rate)
    finally:
        for _, proc in procs.values():
            stop(proc)

    print(f"{'endpoint':<24}{'app':<16}{'req/s':>8}{'x bare':>8}")
    for label in PATHS:
        bare = statistics.median(results[("bare", label)])
        for name in apps:
            rate = statistics.median(results[(name, label)])
            print(f"{label:<24}{name:<16}{rate:>8.0f}{rate / bare:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
