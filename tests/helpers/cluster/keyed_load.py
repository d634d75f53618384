"""Bounded load with keyed writes, as a careful client sends them to a clustered API.

Each thread owns its records: it creates one, patches it a few times, reading it back
between writes, round after round. Requests alternate between the app instances (a load
balancer's round robin). Every write carries an ``Idempotency-Key`` and is retried with
the same key on 503 or a cut connection, up to ``retry_for`` seconds: the retry either
replays the first answer or writes once.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

from tests.helpers.loadgen import API_KEY

PATH = "/api/v1/wdtests"
RETRY_STATUSES = (503,)
ALLOWED_STATUSES = {404, 409, 412, 429, 503}  # besides 2xx


@dataclass
class Attempt:
    instance: int
    method: str
    path: str
    status: int | None  # None: the connection was cut, refused or timed out
    started: float
    ended: float
    error: str = ""


@dataclass
class Write:
    """One logical write, however many attempts it took."""

    method: str
    record_id: str
    sent: dict
    key: str
    started: float
    status: int | None = None
    ended: float = 0.0
    body: dict | None = None  # the acknowledged representation (2xx)
    in_doubt: bool = False  # some attempt got no answer or a 503: it may have been applied

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and self.body is not None


@dataclass
class Read:
    record_id: str
    started: float
    ended: float
    status: int | None
    version: int | None  # 0: the record was not found


@dataclass
class KeyedLoad:
    ports: list[int]
    threads: int = 4
    patches: int = 3
    retry_for: float = 30.0
    timeout: float = 10.0
    pause: float = 0.02
    attempts: list[Attempt] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self.prefix = f"cl-{uuid.uuid4().hex[:6]}"

    def start(self) -> KeyedLoad:
        for worker in range(self.threads):
            thread = threading.Thread(target=self._run, args=(worker,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> KeyedLoad:
        self._stop.set()
        for thread in self._workers:
            thread.join(self.retry_for + self.timeout + 10)
        return self

    # -- one client thread ------------------------------------------------------------

    def _run(self, worker: int) -> None:
        turn = [worker]  # round robin over the instances, per thread
        round_ = 0
        while not self._stop.is_set():
            record_id = f"{self.prefix}-{worker}-{round_}"
            created = self._write(turn, "POST", PATH, record_id, {"id": record_id, "name": "c", "age": 1})
            if created.acknowledged:
                for n in range(self.patches):
                    if self._stop.is_set():
                        break
                    self._read(turn, record_id)
                    self._write(turn, "PATCH", f"{PATH}/{record_id}", record_id, {"name": f"p{n}"})
                self._read(turn, record_id)
            round_ += 1

    def _send(self, turn: list[int], method: str, path: str, body=None, headers=None):
        instance = turn[0] % len(self.ports)
        turn[0] += 1
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[instance], timeout=self.timeout)
        all_headers = {"X-API-Key": API_KEY, "Connection": "close", **(headers or {})}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            conn.request(method, path, body=payload, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            attempt = Attempt(instance, method, path, response.status, started, time.monotonic())
        except (OSError, http.client.HTTPException) as err:
            data = b""
            attempt = Attempt(instance, method, path, None, started, time.monotonic(), repr(err))
        finally:
            conn.close()
        with self._lock:
            self.attempts.append(attempt)
        if self.pause:
            time.sleep(self.pause)
        return attempt, data

    def _write(self, turn, method: str, path: str, record_id: str, body: dict) -> Write:
        write = Write(method, record_id, body, uuid.uuid4().hex, time.monotonic())
        deadline = write.started + self.retry_for
        while True:
            attempt, data = self._send(turn, method, path, body, {"Idempotency-Key": write.key})
            write.status, write.ended = attempt.status, attempt.ended
            if attempt.status is None or attempt.status in RETRY_STATUSES:
                write.in_doubt = True
                if time.monotonic() < deadline and not (self._stop.is_set() and method == "POST"):
                    time.sleep(0.1)
                    continue
            elif 200 <= attempt.status < 300:
                write.body = json.loads(data)
            break
        with self._lock:
            self.writes.append(write)
        return write

    def _read(self, turn, record_id: str) -> None:
        attempt, data = self._send(turn, "GET", f"{PATH}/{record_id}")
        version = {200: None, 404: 0}.get(attempt.status or 0)
        if attempt.status == 200:
            version = json.loads(data).get("version")
        with self._lock:
            self.reads.append(Read(record_id, attempt.started, attempt.ended, attempt.status, version))

    # -- what the test asserts on ----------------------------------------------------------

    def statuses(self) -> dict:
        counts: dict = {}
        for attempt in self.attempts:
            counts[attempt.status] = counts.get(attempt.status, 0) + 1
        return counts

    def unexpected(self) -> list[Attempt]:
        """Attempts answered with a status outside 2xx and ALLOWED_STATUSES (a 500 first)."""
        return [
            a
            for a in self.attempts
            if a.status is not None and not 200 <= a.status < 300 and a.status not in ALLOWED_STATUSES
        ]

    def acknowledged(self) -> list[Write]:
        return sorted((w for w in self.writes if w.acknowledged), key=lambda w: w.ended)

    def success_times(self) -> list[float]:
        return sorted(
            a.ended for a in self.attempts if a.method != "GET" and a.status and 200 <= a.status < 300
        )

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time in [start, end] without a successful write, counted from the last
        success before ``start``."""
        times = self.success_times()
        before = [t for t in times if t < start]
        points = [before[-1] if before else start] + [t for t in times if start <= t <= end] + [end]
        return max(b - a for a, b in zip(points, points[1:], strict=False))

    def first_success_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` to the next successful write (None: none)."""
        return next((t - moment for t in self.success_times() if t >= moment), None)

    def stale_reads(self) -> list[tuple[Read, Write]]:
        """Reads that returned an older version than a write of that record acknowledged
        before the read was sent."""
        acked: dict[str, list[Write]] = {}
        for write in self.acknowledged():
            acked.setdefault(write.record_id, []).append(write)
        stale = []
        for read in self.reads:
            if read.version is None:
                continue
            for write in acked.get(read.record_id, []):
                if write.ended < read.started and write.body["version"] > read.version:
                    stale.append((read, write))
                    break
        return stale

    def summary(self) -> str:
        acked = len(self.acknowledged())
        return f"{len(self.attempts)} attempts, {acked} acknowledged writes, statuses {self.statuses()}"
