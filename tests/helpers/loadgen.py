"""HTTP from test threads: one request, a port that starts listening, and steady load.

``Load`` runs client threads, each on its own keep-alive connection (a new one after any
error), and records every request's outcome and latency, so a fault test can assert on
statuses, connection errors, the worst latency and the writes that were acknowledged.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

API_KEY = "fault-test-key"


def wait_until_listening(port: int, timeout: float, proc=None) -> bool:
    """True once something accepts on ``port``; False on timeout or when ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def request(port: int, method: str, path: str, body=None, headers=None, timeout: float = 10.0):
    """One request on a fresh connection: ``(status, headers, body bytes)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Connection": "close", "X-API-Key": API_KEY, **(headers or {})}
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def wait_while_progressing(
    predicate: Callable[[], bool], progress: Callable[[], int], idle: float, interval: float = 0.2
) -> bool:
    """``predicate()`` by the time ``progress()`` stops growing for ``idle`` seconds: for a
    backlog whose size (and so drain time) grows with the load, not with a fixed bound."""
    last, since = progress(), time.monotonic()
    while not predicate():
        now, current = time.monotonic(), progress()
        if current != last:
            last, since = current, now
        elif now - since > idle:
            return predicate()
        time.sleep(interval)
    return True


@dataclass
class Outcome:
    method: str
    path: str
    status: int | None  # None: the connection failed (reset, refused, timed out)
    seconds: float
    started: float
    error: str = ""
    record: dict | None = None  # the body of an acknowledged write
    sent: dict | None = None  # the request body


@dataclass
class Step:
    method: str
    path: str
    body: dict | None = None


@dataclass
class Load:
    """``plan(worker, n)`` gives each thread's n-th request; run with ``start``/``stop``."""

    port: int
    plan: Callable[[int, int], Step]
    threads: int = 8
    timeout: float = 30.0
    pause: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> Load:
        for worker in range(self.threads):
            thread = threading.Thread(target=self._run, args=(worker,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> Load:
        self._stop.set()
        for thread in self._workers:
            thread.join(self.timeout + 5)
        return self

    def run_for(self, seconds: float) -> Load:
        self.start()
        time.sleep(seconds)
        return self.stop()

    def _run(self, worker: int) -> None:
        conn = None
        for n in itertools.count():
            if self._stop.is_set():
                break
            step = self.plan(worker, n)
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            headers = {"X-API-Key": API_KEY}
            payload = None
            if step.body is not None:
                payload = json.dumps(step.body).encode()
                headers["Content-Type"] = "application/json"
            started = time.monotonic()
            try:
                conn.request(step.method, step.path, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
                status = response.status
                outcome = Outcome(
                    step.method, step.path, status, time.monotonic() - started, started, sent=step.body
                )
                if step.method in ("POST", "PUT", "PATCH") and 200 <= status < 300:
                    outcome.record = json.loads(data)
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as err:
                outcome = Outcome(
                    step.method,
                    step.path,
                    None,
                    time.monotonic() - started,
                    started,
                    repr(err),
                    sent=step.body,
                )
                conn.close()
                conn = None
            with self._lock:
                self.outcomes.append(outcome)
            if self.pause:
                time.sleep(self.pause)
        if conn is not None:
            conn.close()

    # -- figures --------------------------------------------------------------------

    def statuses(self) -> dict:
        counts: dict = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return counts

    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is None]

    def worst(self) -> float:
        return max((o.seconds for o in self.outcomes), default=0.0)

    def acknowledged(self) -> dict[str, dict]:
        """The last acknowledged representation of each record written."""
        records: dict[str, dict] = {}
        for o in sorted(self.outcomes, key=lambda o: o.started):
            if o.record is not None and "id" in o.record:
                records[o.record["id"]] = o.record
        return records

    def summary(self) -> str:
        worst = self.worst() * 1000
        return f"{len(self.outcomes)} requests, statuses {self.statuses()}, worst {worst:.0f} ms"


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def write_plan(prefix: str, path: str = "/api/v1/wdtests") -> Callable[[int, int], Step]:
    """Per thread: create a record, then patch it, then read it, round after round."""

    def plan(worker: int, n: int) -> Step:
        record_id = f"{prefix}-{worker}-{n // 3}"
        kind = n % 3
        if kind == 0:
            return Step("POST", path, {"id": record_id, "name": f"w{worker}", "age": 1})
        if kind == 1:
            return Step("PATCH", f"{path}/{record_id}", {"name": f"p{worker}-{n // 3}"[:20]})
        return Step("GET", f"{path}/{record_id}")

    return plan


def missing_writes(database_url: str, load: Load) -> list[str]:
    """Ids of acknowledged writes the database does not hold as acknowledged (or newer).

    A later write that got no answer or a 5xx is in doubt: its commit may have reached the
    server while the answer was lost (a fault that starts or ends mid-commit), so the
    database may hold its values instead."""
    from sqlalchemy import create_engine, text

    acknowledged = load.acknowledged()
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT id, name FROM wdtest")).all())
    finally:
        engine.dispose()
    ordered = sorted(load.outcomes, key=lambda o: o.started)
    acked_at = {o.record["id"]: o.started for o in ordered if o.record is not None and "id" in o.record}
    missing = []
    for record_id, record in acknowledged.items():
        in_doubt = [
            o
            for o in load.outcomes
            if o.path.endswith(f"/{record_id}")
            and o.method in ("PUT", "PATCH")
            and (o.status is None or o.status >= 500)
            and o.started >= acked_at[record_id]
        ]
        possible = {record["name"]} | {(o.sent or {}).get("name", record["name"]) for o in in_doubt}
        if rows.get(record_id) not in possible:
            missing.append(record_id)
    return missing
