"""CPU per rate-limited request, before and after: Flask-Limiter counting in Redis on every
request (``RATELIMIT_SYNC_INTERVAL=0``, the old storage) against the synced storage (the
default), with no limit as the floor, side by side in one process.

    .venv/bin/python -m bench.ratelimit [--requests 2000] [--rounds 5]

Each variant is the project's app (production settings, API key, read cache off) serving
``GET /api/v1/wdtests/<id>`` from a SQLite file through Flask's test client, one caller,
a budget it never spends. Rounds are interleaved (A B C A B C ...) so a busy machine slows
every variant alike; the figures are medians over rounds, the limiter's share a median of
differences within each round. CPU is this process's, all threads
(the sync thread included); Redis's own CPU is not counted (the shared server serves others).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid

import redis
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from extensions import db
from factory import create_app
from models import Wdtest
from tests.helpers.ratelimits import most_within  # the tests measure the same bound

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
API_KEY = "bench-ratelimit-key-0123456789"
VARIANTS = {
    "no limit": {"RATELIMIT_ENABLED": False},
    "Redis per request (before)": {"RATELIMIT_SYNC_INTERVAL": 0},
    "synced every 0.2 s (after)": {"RATELIMIT_SYNC_INTERVAL": 0.2},
}


def make_app(database: str, prefix: str, overrides: dict):
    config = {
        "ENV_NAME": "prod",
        "SECRET_KEY": uuid.uuid4().hex,
        "API_KEYS": API_KEY,
        "SQLALCHEMY_DATABASE_URI": database,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": prefix,
        "CACHE_TTL": 0,
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_APPLICATION": "1000000 per minute",
        **overrides,
    }
    return create_app(config)


def measure(http, path: str, count: int) -> tuple[float, float]:
    """CPU and wall seconds per request over ``count`` requests."""
    headers = {"X-API-Key": API_KEY}
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        response = http.get(path, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.get_data(as_text=True)[:200]}")
    return (time.process_time() - cpu) / count, (time.perf_counter() - wall) / count


def measure_storage(uri: str, prefix: str, count: int) -> tuple[float, float]:
    """CPU and wall seconds per ``hit`` of the fixed-window strategy on one storage alone."""
    limiter, item = (
        FixedWindowRateLimiter(storage_from_string(uri, key_prefix=prefix)),
        parse("1000000/minute"),
    )
    limiter.hit(item, "warm-up")
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        limiter.hit(item, "caller")
    result = (time.process_time() - cpu) / count, (time.perf_counter() - wall) / count
    getattr(limiter.storage, "close", lambda: None)()
    return result


def tolerance(database: str, prefix: str, processes: int, limit: int) -> dict:
    """``processes`` app instances (each its own storage and sync thread, as workers are), one
    thread hammering each for one caller until every instance refuses: what passed, h, and
    how long after the budget ran out (the limit-th hit) each instance answered its first 429."""
    apps = [
        make_app(database, prefix, {"RATELIMIT_APPLICATION": f"{limit} per minute"}) for _ in range(processes)
    ]
    passed: list[list[float]] = [[] for _ in range(processes)]
    first_429 = [0.0] * processes
    stop = threading.Event()

    def hammer(i: int) -> None:
        http = apps[i].test_client()
        # Up to the first 429: counts only grow within a window, so nothing passes after it
        # (the refused hits would only swell h, which counts every hit).
        while not stop.is_set():
            if http.get("/api/v1/wdtests/bench0001", headers={"X-API-Key": API_KEY}).status_code != 200:
                first_429[i] = time.monotonic()
                return
            passed[i].append(time.monotonic())

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(processes)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while not all(first_429) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join()
    storages = [app.extensions["wdapi.limiter"].storage for app in apps]
    time.sleep(1)  # the last batches flushed: h is complete
    for storage in storages:
        storage.close()
    period = max(storage.longest_period for storage in storages)
    h = max(most_within(times, period) for times in passed)
    return {
        "passed": sum(map(len, passed)),
        "period": period,
        "h": h,
        "bound": limit + (processes - 1) * h,
        # The budget ran out at the limit-th allowed hit, whichever instance took it.
        "after": [t - sorted(t for times in passed for t in times)[limit - 1] for t in first_429],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round and variant")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--processes", type=int, default=3, help="instances in the tolerance runs")
    parser.add_argument(
        "--limit", type=int, default=1000, help="the budget (per minute) in the tolerance runs"
    )
    parser.add_argument("--tolerance-runs", type=int, default=3)
    args = parser.parse_args()
    prefix = f"wdapi-bench-{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/bench.sqlite3"
        apps = {name: make_app(database, prefix + str(i), o) for i, (name, o) in enumerate(VARIANTS.items())}
        first = next(iter(apps.values()))
        with first.app_context():
            db.create_all()
            db.session.add(Wdtest(id="bench0001", name="bench", age=1))
            db.session.commit()
        clients = {name: app.test_client() for name, app in apps.items()}
        path = "/api/v1/wdtests/bench0001"
        for http in clients.values():
            measure(http, path, 200)  # warm-up: connections, caches, the sync thread
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        for _ in range(args.rounds):
            for name, http in clients.items():
                results[name].append(measure(http, path, args.requests))
        tolerances = [
            tolerance(database, f"{prefix}t{run}:", args.processes, args.limit)
            for run in range(args.tolerance_runs)
        ]
        for app in apps.values():
            with app.app_context():
                db.engine.dispose()
    storages: dict[str, list[tuple[float, float]]] = {REDIS_URL: [], "synced+" + REDIS_URL: []}
    for _ in range(args.rounds):
        for uri, rounds in storages.items():
            rounds.append(measure_storage(uri, prefix + "storage", args.requests * 5))
    client = redis.Redis.from_url(REDIS_URL)
    names = list(client.scan_iter(match=f"{prefix}*"))
    if names:
        client.delete(*names)
    load = os.getloadavg()[0]
    floor = [cpu for cpu, _ in results["no limit"]]
    print(f"{args.rounds} rounds x {args.requests} requests, GET by id, load average {load:.1f}\n")
    print("| variant | CPU per request | limiter's CPU (minus none) | wall per request | CPU range |")
    print("| --- | --- | --- | --- | --- |")
    for name, rounds in results.items():
        cpus = [cpu for cpu, _ in rounds]
        cpu, wall = statistics.median(cpus), statistics.median(w for _, w in rounds)
        spread = f"{min(cpus) * 1e6:.0f}-{max(cpus) * 1e6:.0f} us"
        # Paired by round: the machine's drift between rounds cancels out.
        limiter = f"{statistics.median(c - f for c, f in zip(cpus, floor, strict=True)) * 1e6:+.0f} us"
        print(f"| {name} | {cpu * 1e6:.0f} us | {limiter} | {wall * 1e6:.0f} us | {spread} |")
    print(f"\nThe storage alone: `FixedWindowRateLimiter.hit`, {args.requests * 5} calls a round\n")
    print("| storage | CPU per hit | wall per hit |")
    print("| --- | --- | --- |")
    for uri, rounds in storages.items():
        cpu, wall = statistics.median(c for c, _ in rounds), statistics.median(w for _, w in rounds)
        print(f"| `{uri}` | {cpu * 1e6:.1f} us | {wall * 1e6:.1f} us |")
    print(f"\nTolerance: {args.processes} instances hammered at once, {args.limit} per minute, sync 0.2 s\n")
    print(
        "| run | passed | over the limit | longest sync period | h: most hits of one instance in it "
        "| bound L + (P-1) x h | each instance's first 429 after the budget ran out |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for run, t in enumerate(tolerances, 1):
        after = ", ".join(f"{a * 1000:+.0f} ms" for a in t["after"])
        over, period = t["passed"] - args.limit, f"{t['period'] * 1000:.0f} ms"
        print(f"| {run} | {t['passed']} | {over} | {period} | {t['h']} | {t['bound']} | {after} |")


if __name__ == "__main__":
    main()
