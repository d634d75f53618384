"""gunicorn with gunicorn.conf.py on a loopback port: logs, graceful reload and shutdown."""

import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from tests.helpers.env import clean_env
from tests.helpers.gunicorn import GUNICORN, ROOT
from tests.helpers.live import request
from tests.helpers.ports import free_port


def get(port: int, path: str, headers=None, timeout: float = 15.0):
    """(status, body, response) of one GET on its own connection."""
    response = request(port, "GET", path, headers=headers, timeout=timeout)
    return response.status, response.body, response


def test_access_and_error_logs_share_the_app_format(server):
    status, _, response = get(server.port, "/healthz", {"X-Request-ID": "live-rid-1"})
    assert status == 200 and response.header("X-Request-ID") == "live-rid-1"
    assert response.header("Server-Timing").startswith("app;dur=")
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    out = server.read_output()
    access = (
        r"\S+ \S+ INFO gunicorn\.access \[live-rid-1\] \S+:\d+ "
        r"127\.0\.0\.1 \"GET /healthz HTTP/1\.1\" 200 \d+ \d+ms"
    )
    assert re.search(access, out), out
    assert re.search(r"INFO gunicorn\.error \[-\] \S+:\d+ Booting worker with pid", out), out


def test_healthz_answers_while_every_thread_is_busy(server):
    # 16 requests of 2 s for 2 workers x 4 threads: every thread busy, 8 more queued.
    busy = [threading.Thread(target=get, args=(server.port, "/api/v1/test/slow?s=2")) for _ in range(16)]
    for t in busy:
        t.start()
    time.sleep(0.5)
    took = []
    for _ in range(10):
        started = time.monotonic()
        status, _, _ = get(server.port, "/healthz", timeout=5)
        took.append(time.monotonic() - started)
        assert status == 200
    still_busy = sum(t.is_alive() for t in busy)
    for t in busy:
        t.join(timeout=30)
    assert still_busy == len(busy), "the slow requests ended before the probes: nothing measured"
    # gthread's one queue would make each probe wait for a slow request (2 s and more).
    assert max(took) < 0.25, took


def test_sighup_reloads_workers_without_dropping_requests(server):
    port = server.port
    results, errors, stop = [], [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                status, body, _ = get(port, "/api/v1/test/slow?s=0.02")
                results.append((status, json.loads(body)["pid"] if status == 200 else None))
            except Exception as exc:  # any dropped connection fails the test
                errors.append(repr(exc))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    # Both workers serve before the reload (on a busy machine one may still be importing the app).
    deadline = time.monotonic() + 30
    while len({pid for _, pid in results}) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    old_pids = {pid for _, pid in results}
    in_flight = {}
    slow = threading.Thread(target=lambda: in_flight.update(r=get(port, "/api/v1/test/slow?s=2")))
    slow.start()
    time.sleep(0.3)
    server.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len({pid for _, pid in results[-20:]} - old_pids) < 2:
        time.sleep(0.2)
    time.sleep(0.5)
    stop.set()
    for t in (*threads, slow):
        t.join(timeout=30)

    assert not errors, errors[:5]
    assert len(results) > 20 and {status for status, _ in results} == {200}
    new_pids = {pid for _, pid in results} - old_pids
    assert len(old_pids) == 2 and len(new_pids) >= 2, (old_pids, new_pids)
    assert in_flight["r"][0] == 200  # the request in flight during the reload finished
    assert server.poll() is None


def test_sigterm_drains_in_flight_requests(server):
    in_flight = {}
    slow = threading.Thread(target=lambda: in_flight.update(r=get(server.port, "/api/v1/test/slow?s=2")))
    slow.start()
    time.sleep(0.5)
    server.send_signal(signal.SIGTERM)
    slow.join(timeout=30)
    status, body, _ = in_flight["r"]
    assert status == 200 and "pid" in json.loads(body)
    assert server.wait(timeout=30) == 0
    with pytest.raises(OSError):
        get(server.port, "/healthz", timeout=2)


def test_ctrl_c_to_the_process_group_stops_every_process_promptly(server):
    """A terminal's Ctrl-C reaches the workers too, while the arbiter also tells them to quit."""
    for _ in range(8):  # every worker has served requests on its thread pool
        assert get(server.port, "/healthz")[0] == 200
    pgid = os.getpgid(server.pid)
    started = time.monotonic()
    os.killpg(pgid, signal.SIGINT)
    server.wait(timeout=30)
    assert time.monotonic() - started < 10  # not the graceful timeout (15 s) of a stuck worker
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)  # no worker left behind


def test_a_refused_configuration_stops_gunicorn(tmp_path):
    # The app refuses production without SECRET_KEY; gunicorn must exit, not respawn workers forever.
    env = clean_env(
        APP_ENV="prod",
        BIND=f"127.0.0.1:{free_port()}",
        WEB_CONCURRENCY="1",
        GUNICORN_CONTROL_SOCKET="off",
        DATABASE_URL=f"sqlite:///{tmp_path / 'refused.sqlite3'}",
    )
    proc = subprocess.Popen(
        [str(GUNICORN), "-c", "gunicorn.conf.py", "run:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"gunicorn kept running with a refused configuration:\n{output[-2000:]}")
    assert proc.returncode != 0
    assert output.count("refusing to start") == 1 and "SECRET_KEY" in output
