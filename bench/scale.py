"""``make bench-scale``: list latency at 10,000 rows vs 1,000,000, and cursor depth.

    .venv/bin/python -m bench.scale                  # BENCH_SCALE_ROWS=1000000 by default
    BENCH_QUICK=1 .venv/bin/python -m bench.scale    # fewer, shorter rounds

Two databases (``wdapi_bench_scale_small`` with 10,000 rows, ``wdapi_bench_scale_large``
with BENCH_SCALE_ROWS), one project server on each (production config, sync workers,
read cache off so every request reaches MariaDB). Each case is a set of request paths
that mean the same at both sizes (filters that match as many rows in both tables), sent
at c=1 to the two servers in turn for several rounds; the figure is the median latency.
Writes bench/results/scale.md.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from api.schemas.fields import Cursor
from bench import harness
from bench.harness import ID_FORMAT, RESULTS, TOKEN, Database, Server, env_int

SMALL = 10_000
PATHS = 2_000  # distinct requests per case
LIST = "/api/v1/wdtests?per_page=20"


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    target: str  # what the figure is held against


def cursor(sort: list[str], key: list[str]) -> str:
    return Cursor().serialize("c", {"c": [sort, key]})


def case_paths(key: str, rows: int, rng: random.Random) -> list[str]:
    """Requests of one case; ids and names below SMALL exist in both tables."""
    pick = rng.randrange
    make = {
        "first": lambda: f"{LIST}&include_total=false",
        "first-total": lambda: LIST,
        "name": lambda: f"{LIST}&include_total=false&name=name{pick(SMALL):07d}",
        # "name00123" matches name0012300-name0012399: 100 rows at either size.
        "startswith": lambda: f"{LIST}&include_total=false&name__startswith=name{pick(SMALL // 100):05d}",
        "age": lambda: f"{LIST}&include_total=false&age={pick(100)}",
        "id-in": lambda: (
            f"{LIST}&include_total=false&id__in=" + ",".join(ID_FORMAT.format(pick(SMALL)) for _ in range(10))
        ),
        "cursor-deep": lambda: (
            f"{LIST}&include_total=false&after={cursor([], [ID_FORMAT.format(pick(rows))])}"
        ),
        "offset-deep": lambda: f"{LIST}&include_total=false&page={pick(rows // 20) + 1}",
    }[key]
    return [make() for _ in range(PATHS)]


CASES = [
    Case("first", "first page, no total", "<= 3x"),
    Case("name", "`name=` (one row), first page", "<= 3x"),
    Case("startswith", "`name__startswith=` (100 rows), first page", "<= 3x"),
    Case("age", "`age=` (1 % of rows), first page", "<= 3x"),
    Case("id-in", "`id__in=` (10 ids)", "<= 3x"),
    Case("cursor-deep", "cursor page at a random depth (`after=`)", "<= 3x; and vs first page"),
    Case(
        "first-total",
        "first page with total (a full `COUNT(*)`)",
        "none: the cost include_total=false avoids",
    ),
    Case("offset-deep", "`page=N` at a random depth (OFFSET)", "none: why cursors exist"),
]


def main() -> int:
    quick = os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")
    large_rows = env_int("BENCH_SCALE_ROWS", 1_000_000)
    rounds = env_int("BENCH_ROUNDS", 2 if quick else 3)
    seconds = env_int("BENCH_SECONDS", 2 if quick else 4)
    started = time.monotonic()
    harness.ensure_wrk()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    prefix = f"wdapi-bench-{TOKEN}:"
    sizes = {"small": SMALL, "large": large_rows}
    servers: dict[str, Server] = {}
    for size, rows in sizes.items():
        database = Database(f"wdapi_bench_scale_{size}")
        env = harness.project_env(database, worker_class="sync", cache=False, redis_prefix=prefix)
        log(f"database {database.name}: migrating and seeding {rows:,} rows")
        database.prepare(rows, env, fresh=bool(os.environ.get("BENCH_FRESH_DB")))
        servers[size] = Server(
            f"wdapi-{size}", f"{rows:,} rows", harness.gunicorn("run:app", "-c", "gunicorn.conf.py"), env
        )
    work = RESULTS / "scale"
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    files: dict[tuple[str, str], Path] = {}
    for case in CASES:
        for size, rows in sizes.items():
            path = work / f"{case.key}-{size}.txt"
            path.write_text("\n".join(case_paths(case.key, rows, rng)) + "\n")
            files[(case.key, size)] = path
    results: dict[tuple[str, str], list[dict]] = {}
    failures = 0
    try:
        for server in servers.values():
            server.start(RESULTS / "logs")
        for server in servers.values():
            server.wait_ready()
        for case in CASES:
            for size, server in servers.items():  # warm-up: pools, statement caches, buffer pool
                harness.wrk(
                    server.port,
                    mode="paths",
                    count=0,
                    connections=1,
                    seconds=1,
                    query=str(files[(case.key, size)]),
                )
            for round_no in range(rounds):
                for size, server in servers.items():
                    summary = harness.wrk(
                        server.port,
                        mode="paths",
                        count=0,
                        connections=1,
                        seconds=seconds,
                        query=str(files[(case.key, size)]),
                    )
                    failures += harness.failures(summary)
                    result = {
                        "p50": summary["p50_us"] / 1000,
                        "p99": summary["p99_us"] / 1000,
                        "rps": summary["requests"] / (summary["duration_us"] / 1e6),
                        "failures": harness.failures(summary),
                    }
                    results.setdefault((case.key, size), []).append(result)
                    log(
                        f"  {case.key:<12} round {round_no + 1} {size:<5} p50 {result['p50']:7.2f} ms"
                        f"  {result['rps']:6.0f} req/s"
                    )
    finally:
        for server in servers.values():
            server.stop()
    table = report(results, sizes, rounds, seconds)
    (RESULTS / "scale.md").write_text(table)
    print()
    print(table)
    if failures:
        print(f"FAILED: {failures} non-2xx answers or socket errors", file=sys.stderr)
        return 1
    return 0


def report(results: dict, sizes: dict[str, int], rounds: int, seconds: int) -> str:
    def p50(key: str, size: str) -> float:
        return statistics.median(r["p50"] for r in results[(key, size)])

    lines = [
        f"# wdapi list latency by table size, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"c=1, {rounds} interleaved rounds x {seconds} s per size and case; median of the rounds' p50 "
        "latency; production config, sync workers, read cache off; load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "",
        f"| request | {sizes['small']:,} rows p50 | {sizes['large']:,} rows p50 | ratio | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for case in CASES:
        small, large = p50(case.key, "small"), p50(case.key, "large")
        lines.append(
            f"| {case.title} | {small:.2f} ms | {large:.2f} ms | {large / small:.2f} | {case.target} |"
        )
    first, deep = p50("first", "large"), p50("cursor-deep", "large")
    lines += ["", f"At {sizes['large']:,} rows a deep cursor page takes {deep / first:.2f}x the first page."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
