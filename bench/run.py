"""``make bench``: the project side by side with bare Flask and FastAPI, under wrk.

    .venv/bin/python -m bench.run            # full run, 10,000 rows (about 10 minutes)
    BENCH_QUICK=1 .venv/bin/python -m bench.run   # under 3 minutes
    BENCH_ROWS=1000000 ...                   # a million rows

Every server runs at the same time on its own port; the requests of one case go to each
server in turn (A B C A B C ...) for several rounds, so load from other processes on the
machine hits every server alike: the ratios to bare Flask are the figures to read.
Environment knobs are listed in bench/README.md. Writes bench/results/latest.md.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bench import harness
from bench.harness import ID_FORMAT, PER_PAGE, RESULTS, TOKEN, Database, Server, env_int

BARE = "bare"
BARE_GTHREAD = "bare-gthread"


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    mode: str  # bench/wrk/load.lua's mode: id, list, post, or a path
    connections: int
    targets: str = "all"  # "all", or "uncached": not the cache-on servers (same code path)


CASES = [
    Case("health32", "`/healthz` (static answer), c=32", "/healthz", 32, "uncached"),
    Case("id32", "`GET /wdtests/<id>`, c=32", "id", 32),
    Case("id1", "`GET /wdtests/<id>`, c=1", "id", 1),
    Case("list32", "20-row page + total, c=32", "list", 32),
    Case("list1", "20-row page + total, c=1", "list", 1, "uncached"),
    Case("post32", "`POST /wdtests` (project: + outbox row), c=32", "post", 32, "uncached"),
    Case("post1", "`POST /wdtests`, c=1", "post", 1, "uncached"),
    Case("health1", "`/healthz`, c=1", "/healthz", 1, "uncached"),
]
QUICK_SKIP = {"health1", "list1", "post1"}


def selected(cases: list[Case]) -> list[Case]:
    """``BENCH_CASES`` (keys, e.g. ``list32 post1``) narrows the cases, quick runs included."""
    wanted = os.environ.get("BENCH_CASES", "").replace(",", " ").split()
    return [case for case in cases if not wanted or case.key in wanted]


@dataclass
class Settings:
    rows: int
    quick: bool
    rounds: int
    seconds: int
    warmup: int
    worker_classes: list[str]
    database: str
    warm_max: int

    @classmethod
    def from_env(cls) -> Settings:
        quick = os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")
        return cls(
            rows=env_int("BENCH_ROWS", 10_000),
            quick=quick,
            rounds=env_int("BENCH_ROUNDS", 2 if quick else 3),
            seconds=env_int("BENCH_SECONDS", 2 if quick else 6),
            warmup=env_int("BENCH_WARMUP", 1),
            worker_classes=os.environ.get("BENCH_WORKER_CLASSES", "sync,gthread").replace(",", " ").split(),
            database=os.environ.get("BENCH_DB", "wdapi_bench"),
            # Warming is cache misses, the slowest path: a quick run warms (and reads) fewer ids.
            warm_max=env_int("BENCH_WARM_MAX", 2_000 if quick else 200_000),
        )


def build_servers(settings: Settings, database: Database, redis_prefix: str) -> list[Server]:
    bare_env = {**os.environ, "BENCH_DB_NAME": database.name, "GUNICORN_WORKER_CLASS": "sync"}
    servers = [
        Server(
            BARE,
            "bare Flask (sync)",
            harness.gunicorn(
                "bench.baselines.bare_flask:app",
                "-c",
                "bench/baselines/bare_gunicorn.conf.py",
                "-b",
                "127.0.0.1:{port}",
            ),
            bare_env,
        ),
        Server(
            "fastapi",
            "FastAPI (uvicorn)",
            [
                str(harness.BIN / "uvicorn"),
                "bench.baselines.fastapi_app:app",
                "--workers",
                "2",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            {**os.environ, "BENCH_DATABASE_URL": database.url},
        ),
    ]
    if any(w.partition(":")[0] == "gthread" for w in settings.worker_classes):
        servers.insert(
            1,
            Server(
                BARE_GTHREAD,
                "bare Flask (gthread)",
                servers[0].argv,
                # The project's shipped GUNICORN_THREADS (settings/declaration.py).
                {**bare_env, "GUNICORN_WORKER_CLASS": "gthread", "BENCH_BARE_THREADS": "4"},
            ),
        )
    app = os.environ.get("BENCH_APP", "run:app")
    for worker_class in settings.worker_classes:
        env = harness.project_env(database, worker_class=worker_class, cache=False, redis_prefix=redis_prefix)
        servers.append(
            Server(
                f"wdapi-{worker_class.replace(':', '-x')}",  # names go into ids: no ':'
                f"wdapi {worker_class.replace(':', ' x')}",
                harness.gunicorn(app, "-c", "gunicorn.conf.py"),
                env,
            )
        )
    # The read cache on, with the first worker class (the one the targets name).
    worker_class = settings.worker_classes[0]
    before = os.environ.get("BENCH_BEFORE", "").strip()
    if before:  # the same server from another revision, measured in the same rounds
        env = harness.project_env(database, worker_class=worker_class, cache=False, redis_prefix=redis_prefix)
        servers.append(
            Server(
                f"wdapi-{worker_class}-before",
                f"wdapi {worker_class} at {before}",
                harness.gunicorn(app, "-c", "gunicorn.conf.py"),
                env,
                cwd=harness.checkout(before),
            )
        )
    env = harness.project_env(database, worker_class=worker_class, cache=True, redis_prefix=redis_prefix)
    servers.append(
        Server(
            f"wdapi-{worker_class}-cache",
            f"wdapi {worker_class}, cache on",
            harness.gunicorn(app, "-c", "gunicorn.conf.py"),
            env,
        )
    )
    return servers


def smoke(server: Server, rows: int) -> str:
    """Check every request kind once through the public API; returns the list query to use."""
    status, _, body = harness.request(server.port, "GET", f"/api/v1/wdtests/{ID_FORMAT.format(rows - 1)}")
    if status != 200 or ID_FORMAT.format(rows - 1).encode() not in body:
        raise SystemExit(f"{server.name}: GET by id answered {status}: {body[:300]!r}")
    query = ""
    if server.is_project:
        # include_total appears with cursor pagination: ask for the total explicitly then.
        status, _, _ = harness.request(
            server.port, "GET", f"/api/v1/wdtests?per_page={PER_PAGE}&include_total=true"
        )
        query = "&include_total=true" if status == 200 else ""
    status, headers, body = harness.request(
        server.port, "GET", f"/api/v1/wdtests?page=2&per_page={PER_PAGE}{query}"
    )
    if status != 200 or (b'"total"' not in body and "x-total-count" not in headers):
        raise SystemExit(f"{server.name}: the list page has no total ({status}): {body[:300]!r}")
    status, _, body = harness.request(
        server.port, "POST", "/api/v1/wdtests", {"id": f"s{TOKEN}-{server.name}", "name": "smoke", "age": 1}
    )
    if status != 201:
        raise SystemExit(f"{server.name}: POST answered {status}: {body[:300]!r}")
    return query


def warm_cache(server: Server, ids: int, pages: int, query: str) -> None:
    """GET every id and every list page once: the measured reads are hits, as for users reading many."""
    harness.warm(server.port, mode="warm-id", count=ids)
    harness.warm(server.port, mode="warm-list", count=pages, query=query)
    sample = random.sample(range(ids), min(ids, 50))
    misses = [
        i
        for i in sample
        if harness.request(server.port, "GET", f"/api/v1/wdtests/{ID_FORMAT.format(i)}")[1].get(
            "x-cache", "HIT"
        )
        != "HIT"
    ]
    if len(misses) > 2:
        raise SystemExit(f"{server.name}: {len(misses)} of {len(sample)} sampled ids missed after warming")


def measure(server: Server, case: Case, seconds: int, count: int, query: str, mariadb) -> dict:
    cpu_before, db_before = server.cpu(), harness.cpu_seconds(mariadb)
    summary = harness.wrk(
        server.port, mode=case.mode, count=count, connections=case.connections, seconds=seconds, query=query
    )
    cpu_after, db_after = server.cpu(), harness.cpu_seconds(mariadb)
    n = max(summary["requests"], 1)
    deltas = {pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after}
    worker_cpu = [deltas.get(p.pid, 0.0) for p in server.workers()]
    total = sum(worker_cpu) or 1.0
    return {
        "rps": summary["requests"] / (summary["duration_us"] / 1e6),
        "p50": summary["p50_us"] / 1000,
        "p99": summary["p99_us"] / 1000,
        "failures": harness.failures(summary),
        "errors": {k: summary[k] for k in ("status", "connect", "read", "write", "timeout") if summary[k]},
        "cpu_us": sum(deltas.values()) * 1e6 / n,
        "db_us": (db_after - db_before) * 1e6 / n,
        "split": "/".join(f"{100 * c / total:.0f}" for c in sorted(worker_cpu, reverse=True)),
    }


def servers_for(case: Case, servers: list[Server]) -> list[Server]:
    if case.targets == "uncached":
        return [s for s in servers if not s.name.endswith("-cache")]
    return servers


def run_cases(settings: Settings, servers: list[Server], queries: dict, warmed: int, log) -> dict:
    mariadb = harness.mariadb_process()
    pages = max(settings.rows // PER_PAGE, 1)
    results: dict[tuple[str, str], list[dict]] = {}
    warmed_up: set[str] = set()  # quick runs warm each server up once, before its first case
    for case in selected(CASES):
        if settings.quick and case.key in QUICK_SKIP and not os.environ.get("BENCH_CASES"):
            continue
        targets = servers_for(case, servers)

        def count(server: Server, case: Case = case) -> int:
            if case.mode == "list":
                return pages
            return warmed if server.name.endswith("-cache") else settings.rows

        for server in targets:  # warm-up: pools, lazy imports, first statements
            if settings.quick and server.name in warmed_up:
                continue
            warmed_up.add(server.name)
            harness.wrk(
                server.port,
                mode=case.mode,
                count=count(server),
                connections=case.connections,
                seconds=settings.warmup,
                query=queries[server.name],
            )
        for round_no in range(settings.rounds):
            for server in targets:
                result = measure(server, case, settings.seconds, count(server), queries[server.name], mariadb)
                results.setdefault((case.key, server.name), []).append(result)
                log(
                    f"  {case.key:<9} round {round_no + 1} {server.name:<22} {result['rps']:8.0f} req/s"
                    f"  p99 {result['p99']:7.1f} ms  cpu {result['cpu_us']:6.0f} us/req"
                    + (f"  FAILURES {result['errors']}" if result["failures"] else "")
                )
    return results


# -- the report ---------------------------------------------------------------------------


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "n/a"


def report(settings: Settings, servers: list[Server], results: dict, rss: dict, meta: dict) -> str:
    names = [s.name for s in servers]
    labels = {s.name: s.label for s in servers}
    lines = [
        f"# wdapi benchmark, {meta['date']}",
        "",
        f"- commit `{meta['commit']}`; {settings.rows:,} rows ({meta['db']}); "
        f"{'quick' if settings.quick else 'full'} run: {settings.rounds} rounds x {settings.seconds} s per "
        f"target and case, interleaved; wrk 2 threads (1 at c=1); load average at start {meta['load']}",
        "- every server: 2 workers on this machine's 2 cores, MariaDB and Redis on loopback; the project "
        "with `APP_ENV=prod`, API keys, access log on, INFO logging, its own `gunicorn.conf.py`",
        "- the machine is shared: absolute figures move with other load, the ratios to bare Flask "
        "measured side by side in the same rounds are what count",
        "",
        "## Summary: ratio to bare Flask (req/s, and CPU per request where noted)",
        "",
        "| request | " + " | ".join(labels[n] for n in names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for case in CASES:
        if (case.key, BARE) not in results:
            continue
        base = results[(case.key, BARE)]
        rps_b, cpu_b, p99_b = median(base, "rps"), median(base, "cpu_us"), median(base, "p99")
        rps, cpu, p99 = [], [], []
        for name in names:
            runs = results.get((case.key, name))
            if not runs:
                rps.append("—"), cpu.append("—"), p99.append("—")
                continue
            if name == BARE:
                rps.append(f"{rps_b:.0f} = 1.00")
                cpu.append(f"{cpu_b:.0f} us = 1.00")
                p99.append(f"{p99_b:.1f} ms = 1.00")
            else:
                rps.append(f"**{ratio(median(runs, 'rps'), rps_b)}**")
                cpu.append(f"{median(runs, 'cpu_us'):.0f} us = {ratio(median(runs, 'cpu_us'), cpu_b)}")
                p99.append(f"{median(runs, 'p99'):.1f} ms = {ratio(median(runs, 'p99'), p99_b)}")
        lines.append(f"| {case.title}: req/s | " + " | ".join(rps) + " |")
        lines.append("| same, server CPU per request | " + " | ".join(cpu) + " |")
        lines.append("| same, p99 latency | " + " | ".join(p99) + " |")
    rss_b = rss.get(BARE, 0.0)
    lines.append(
        "| peak RSS per worker | "
        + " | ".join(f"{rss[n]:.0f} MiB" + ("" if n == BARE else f" = {ratio(rss[n], rss_b)}") for n in names)
        + " |"
    )
    lines += gthread_summary(results, [n for n in names if n == "wdapi-gthread"], labels)
    lines += [
        "",
        "## Every figure",
        "",
        "req/s: median of the rounds (min-max); p50/p99 and CPU: medians. CPU is the server's "
        "process tree (master + workers) per request; MariaDB CPU is the whole server's and catches "
        "other agents' queries too. Split: each worker's share of the workers' CPU (gthread "
        "keep-alive connections stay with the worker that accepted them).",
        "",
        "| case | server | req/s | min-max | x bare | p50 ms | p99 ms | non-2xx | CPU us/req "
        "| x bare | MariaDB us/req | worker split % |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for case in CASES:
        if (case.key, BARE) not in results:
            continue
        base = results[(case.key, BARE)]
        for name in names:
            runs = results.get((case.key, name))
            if not runs:
                continue
            rates = [r["rps"] for r in runs]
            fails = sum(r["failures"] for r in runs)
            splits = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]["split"]
            lines.append(
                f"| {case.key} | {labels[name]} | {median(runs, 'rps'):.0f} "
                f"| {min(rates):.0f}-{max(rates):.0f} "
                f"| {ratio(median(runs, 'rps'), median(base, 'rps'))} | {median(runs, 'p50'):.2f} "
                f"| {median(runs, 'p99'):.2f} | {'**' + str(fails) + '**' if fails else 0} "
                f"| {median(runs, 'cpu_us'):.0f} | {ratio(median(runs, 'cpu_us'), median(base, 'cpu_us'))} "
                f"| {median(runs, 'db_us'):.0f} | {splits} |"
            )
    return "\n".join(lines) + "\n"


def gthread_summary(results: dict, projects: list[str], labels: dict[str, str]) -> list[str]:
    """The project's gthread servers against bare Flask on the same worker class: what is left
    once gunicorn's hand-off of each request to a thread, which bare pays too, is on both sides."""
    rows = []
    for case in CASES:
        base = results.get((case.key, BARE_GTHREAD))
        if not base:
            continue
        cells = []
        for name in projects:
            runs = results.get((case.key, name))
            cells.append(
                f"**{ratio(median(runs, 'rps'), median(base, 'rps'))}**, CPU "
                f"{ratio(median(runs, 'cpu_us'), median(base, 'cpu_us'))}"
                if runs
                else "—"
            )
        rows.append(f"| {case.title} | " + " | ".join(cells) + " |")
    if not rows or not projects:
        return []
    return [
        "",
        "## gthread: ratio to bare Flask on gthread (req/s, CPU per request)",
        "",
        "| request | " + " | ".join(labels[n] for n in projects) + " |",
        "| --- |" + " --- |" * len(projects),
        *rows,
    ]


def git_commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=harness.ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def main() -> int:
    settings = Settings.from_env()
    started = time.monotonic()
    harness.ensure_wrk()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    database = Database(settings.database)
    redis_prefix = f"wdapi-bench-{TOKEN}:"
    log(f"database {database.name}: migrating and seeding {settings.rows:,} rows")
    migrate_env = harness.project_env(database, worker_class="sync", cache=False, redis_prefix=redis_prefix)
    db_state = database.prepare(settings.rows, migrate_env, fresh=bool(os.environ.get("BENCH_FRESH_DB")))
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "db": db_state,
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    servers = build_servers(settings, database, redis_prefix)
    failures = 0
    try:
        log("starting " + ", ".join(s.name for s in servers))
        for server in servers:
            server.start(RESULTS / "logs")
        for server in servers:
            server.wait_ready()
        queries = {s.name: smoke(s, settings.rows) for s in servers}
        warmed = min(settings.rows, settings.warm_max)
        for server in servers:
            if server.name.endswith("-cache"):
                log(f"warming {server.name}'s cache over {warmed:,} ids")
                warm_cache(server, warmed, max(settings.rows // PER_PAGE, 1), queries[server.name])
        log("measuring")
        results = run_cases(settings, servers, queries, warmed, log)
        rss = {s.name: s.peak_rss_mib() for s in servers}
        failures = sum(r["failures"] for runs in results.values() for r in runs)
    finally:
        for server in servers:
            server.stop()
        harness.drop_redis_keys(redis_prefix)
    table = report(settings, servers, results, rss, meta)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(table)
    print()
    print(table)
    log(f"done; written to {(RESULTS / 'latest.md').relative_to(harness.ROOT)}")
    if failures:
        print(
            f"FAILED: {failures} non-2xx answers or socket errors (see the non-2xx column)", file=sys.stderr
        )
        return 1
    return 0


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the servers (in their own sessions) are stopped too."""

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    stop_on_sigterm()
    sys.exit(main())
