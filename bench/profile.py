"""``make bench-profile``: where the project's workers spend their CPU, sampled by py-spy under wrk.

Starts the project (production config, sync workers unless ``BENCH_WORKER_CLASSES`` says
otherwise, cache off, and cache on warmed over every id) on the seeded benchmark database,
puts wrk load on one request kind at a time and records both workers with
``py-spy record --subprocesses --nonblocking``. Writes the raw stacks to
``bench/results/profile-<case>.txt`` and a summary (self and inclusive time by function and
by library) to ``bench/results/profile.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from bench import harness
from bench.harness import PER_PAGE, RESULTS, TOKEN, Database, Server, env_int
from bench.run import Settings, smoke, stop_on_sigterm, warm_cache

# (case, server, wrk mode, connections)
CASES = [
    ("get-by-id, cache off", "nocache", "id", 32),
    ("get-by-id, cache hit", "cache", "id", 32),
    ("list page + total, cache off", "nocache", "list", 32),
    ("POST", "nocache", "post", 32),
    ("/healthz", "nocache", "/healthz", 32),
]
# Libraries by the path of their frames, most specific first; the rest is "other".
COMPONENTS = [
    ("flask_restx", "flask_restx"),
    ("flask_sqlalchemy", "flask_sqlalchemy"),
    ("flask_cors", "flask_cors"),
    ("flask", "flask"),
    ("werkzeug", "werkzeug"),
    ("sqlalchemy", "sqlalchemy"),
    ("pymysql", "pymysql"),
    ("marshmallow", "marshmallow"),
    ("redis", "/redis/"),
    ("gunicorn", "gunicorn"),
    ("logging (stdlib)", "/logging/"),
    ("json (stdlib)", "/json/"),
]


def selected(cases: list) -> list:
    """``BENCH_PROFILE_CASES`` (comma list of wrk modes, e.g. ``list,post``) narrows the cases."""
    wanted = os.environ.get("BENCH_PROFILE_CASES", "").replace(",", " ").split()
    return [case for case in cases if not wanted or case[2] in wanted]


def component(frame: str) -> str:
    for name, needle in COMPONENTS:
        if needle in frame:
            return name
    if str(harness.ROOT) in frame and "site-packages" not in frame:
        return "project code"
    return "other (stdlib, C)"


def parse(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) format: ``frame;frame;...;leaf count`` per line."""
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            # Drop the process/thread pseudo-frames py-spy puts first.
            kept = [f for f in frames.split(";") if not f.startswith(("process ", "thread "))]
            stacks.append((kept, int(count)))
    return stacks


def short(frame: str) -> str:
    """``func (/long/path/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py:12)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", f"{harness.ROOT}/", "/lib/python3."):
        if marker in where:
            where = where.split(marker, 1)[1]
            if marker == "/lib/python3.":
                where = where.split("/", 1)[1]
    return f"{name} ({where})"


def without_line(frame: str) -> str:
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})"


def summarise(title: str, stacks: list[tuple[list[str], int]], top: int = 20) -> list[str]:
    total = sum(n for _, n in stacks) or 1
    self_fn, incl_fn, self_comp, incl_comp = Counter(), Counter(), Counter(), Counter()
    for frames, n in stacks:
        if not frames:
            continue
        leaf = without_line(frames[-1])
        self_fn[leaf] += n
        self_comp[component(leaf)] += n
        for fn in {without_line(f) for f in frames}:
            incl_fn[fn] += n
        for comp in {component(f) for f in frames}:
            incl_comp[comp] += n
    lines = [
        f"## {title}",
        "",
        f"{total} samples.",
        "",
        "| library | self % | inclusive % |",
        "| --- | ---: | ---: |",
    ]
    for comp, n in incl_comp.most_common():
        lines.append(f"| {comp} | {100 * self_comp[comp] / total:.1f} | {100 * n / total:.1f} |")
    lines += ["", "| top functions by self time | self % |", "| --- | ---: |"]
    lines += [f"| `{short(fn)}` | {100 * n / total:.1f} |" for fn, n in self_fn.most_common(top)]
    lines += ["", "| top functions by inclusive time (under 97 %) | inclusive % |", "| --- | ---: |"]
    inclusive = [(fn, n) for fn, n in incl_fn.most_common() if n / total < 0.97][: top + 10]
    lines += [f"| `{short(fn)}` | {100 * n / total:.1f} |" for fn, n in inclusive]
    return lines + [""]


def record(
    server: Server, mode: str, count: int, connections: int, seconds: int, out: Path, query: str
) -> None:
    load = subprocess.Popen(
        [
            harness.ensure_wrk(),
            "-t2",
            f"-c{connections}",
            f"-d{seconds + 3}s",
            "-s",
            str(harness.LUA),
            f"http://127.0.0.1:{server.port}",
            "--",
            mode,
            str(count),
            uuid.uuid4().hex[:8],
            harness.API_KEY,
            query,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    spy = [
        str(harness.BIN / "py-spy"),
        "record",
        "--pid",
        str(server.process.pid),
        "--subprocesses",
        "--nonblocking",
        "--gil",  # CPU only: the thread holding the GIL, not threads waiting on a socket
        "--rate",
        "200",
        "--duration",
        str(seconds),
        "--format",
        "raw",
        "--output",
        str(out),
    ]
    done = subprocess.run(spy, capture_output=True, text=True)
    output, _ = load.communicate(timeout=seconds + 60)
    if done.returncode:
        raise SystemExit(f"py-spy failed ({done.returncode}): {done.stderr}")
    summary = next((line for line in output.splitlines() if line.startswith("BENCH ")), "")
    if '"status":0' not in summary:
        raise SystemExit(f"non-2xx answers under profiling: {summary}")


def main() -> int:
    settings = Settings.from_env()
    seconds = env_int("BENCH_PROFILE_SECONDS", 15)
    database = Database(settings.database)
    prefix = f"wdapi-bench-{TOKEN}:"
    worker_class = settings.worker_classes[0]
    env = harness.project_env(database, worker_class=worker_class, cache=False, redis_prefix=prefix)
    print(f"database {database.name}: {database.prepare(settings.rows, env)}", flush=True)
    app = os.environ.get("BENCH_APP", "run:app")
    servers = {
        name: Server(
            f"wdapi-{worker_class}-{name}",
            f"wdapi {worker_class} {name}",
            harness.gunicorn(app, "-c", "gunicorn.conf.py"),
            harness.project_env(
                database, worker_class=worker_class, cache=name == "cache", redis_prefix=prefix
            ),
        )
        for name in ("nocache", "cache")
    }
    warmed = min(settings.rows, settings.warm_max)
    report = [
        "# Where the project's workers spend their CPU",
        "",
        f"py-spy record --gil (200 Hz, both workers, non-blocking) for {seconds} s per case under wrk c=32; "
        f"{worker_class} workers, production config; {settings.rows:,} rows. Self: the function on top "
        "of the stack; inclusive: anywhere on it.",
        "",
    ]
    try:
        for server in servers.values():
            server.start(RESULTS / "logs")
        for server in servers.values():
            server.wait_ready()
        query = {name: smoke(server, settings.rows) for name, server in servers.items()}
        warm_cache(servers["cache"], warmed, max(settings.rows // PER_PAGE, 1), query["cache"])
        for title, which, mode, connections in selected(CASES):
            count = max(settings.rows // PER_PAGE, 1) if mode == "list" else warmed
            out = RESULTS / f"profile-{title.split(',')[0].replace(' ', '-').replace('/', '')}-{which}.txt"
            print(f"profiling {title} -> {out.name}", flush=True)
            record(servers[which], mode, count, connections, seconds, out, query[which])
            report += summarise(title, parse(out))
    finally:
        for server in servers.values():
            server.stop()
        harness.drop_redis_keys(prefix)
    (RESULTS / "profile.md").write_text("\n".join(report))
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    stop_on_sigterm()
    sys.exit(main())
