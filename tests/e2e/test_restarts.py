"""Restarts under load: a rolling restart of two instances behind the shipped nginx, a
SIGHUP reload, and a worker killed outright. Writes keep flowing; none acknowledged is lost."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from tests.helpers.gunicorn import Instance as Gunicorn
from tests.helpers.gunicorn import production_env, wait_for_new_workers
from tests.helpers.loadgen import Load, missing_writes, request, wait_for, write_plan
from tests.helpers.nginx import Nginx

pytestmark = pytest.mark.usefixtures("nginx_installed")


def ok(status) -> bool:
    return status is not None and 200 <= status < 300


def test_rolling_restart_behind_nginx_fails_no_request(
    tmp_path, mysql_e2e_url, service_env, fault_seconds, figures
):
    # make test: each instance restarted once; make test-faults (FAULT_SECONDS 20): three times.
    rounds = 1 if fault_seconds < 10 else 3
    env = production_env(mysql_e2e_url, GUNICORN_DRAIN_DELAY="5", **service_env)
    apps = [Gunicorn(tmp_path / f"app{i}", env).start() for i in range(2)]
    stops = []
    try:
        with Nginx(tmp_path / "nginx", upstreams=[app.port for app in apps]) as nginx:
            load = Load(nginx.port, write_plan(f"roll-{uuid.uuid4().hex[:6]}"), threads=8).start()
            time.sleep(1)
            for app in [app for _ in range(rounds) for app in apps]:
                started = time.monotonic()
                app.signal(signal.SIGTERM)
                # Draining: not ready any more, yet still serving.
                assert wait_for(lambda a=app: request(a.port, "GET", "/readyz")[0] == 503, 3)
                assert app.wait(timeout=60) == 0
                stops.append(time.monotonic() - started)
                app.start()  # returns once /healthz answers: the next restart may begin
                time.sleep(1)
            load.stop()
            # What nginx saw besides refused connections (which it retries elsewhere).
            upstream_errors = [
                line
                for line in nginx.output().splitlines()
                if "[error]" in line and "(111: Connection refused)" not in line
            ]
        figures.add(
            f"rolling restart, 2 instances via nginx, {2 * rounds} restarts",
            f"{load.summary()}; {len(load.errors())} connection errors;"
            f" stops took {min(stops):.1f}-{max(stops):.1f} s",
        )
        bad = [o for o in load.outcomes if not ok(o.status)]
        assert not bad, (load.summary(), bad[:5], upstream_errors[:5])
        assert len(load.outcomes) > 200
        assert not missing_writes(mysql_e2e_url, load)
    finally:
        for app in apps:
            app.stop()


def test_sighup_under_load_fails_no_request(tmp_path, mysql_e2e_url, service_env, figures):
    env = production_env(mysql_e2e_url, **service_env)
    with Gunicorn(tmp_path, env) as app, Nginx(tmp_path / "nginx", upstreams=[app.port]) as nginx:
        load = Load(nginx.port, write_plan(f"hup-{uuid.uuid4().hex[:6]}"), threads=8).start()
        time.sleep(1)
        old = set(app.worker_pids())
        app.signal(signal.SIGHUP)
        assert len(wait_for_new_workers(app, old, 2)) == 2
        assert wait_for(lambda: not old & set(app.worker_pids()), 30)
        time.sleep(1)
        load.stop()
    figures.add("SIGHUP under load via nginx", load.summary())
    bad = [o for o in load.outcomes if not ok(o.status)]
    assert not bad, (load.summary(), bad[:5])
    assert not missing_writes(mysql_e2e_url, load)


def test_worker_sigkill_under_load_costs_only_its_requests(tmp_path, mysql_e2e_url, service_env, figures):
    env = production_env(mysql_e2e_url, **service_env)  # 2 workers x 4 threads
    with Gunicorn(tmp_path, env) as app:
        load = Load(app.port, write_plan(f"kill-{uuid.uuid4().hex[:6]}"), threads=8).start()
        time.sleep(1)
        old = set(app.worker_pids())
        victim = min(old)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        # Not in ``old`` at all: the victim stays listed as a child until it is reaped.
        replaced = wait_for_new_workers(app, old, 1, timeout=30)
        replaced_after = time.monotonic() - killed_at
        assert len(replaced) == 1 and victim not in app.worker_pids()
        time.sleep(1)
        load.stop()
    figures.add("worker SIGKILL under load", f"{load.summary()}; replaced in {replaced_after:.2f} s")
    # Only the connections the killed worker held (in flight or kept alive) are lost; a
    # patch or read of a record whose create was lost so is a 404.
    created = {o.record["id"] for o in load.outcomes if o.method == "POST" and ok(o.status)}
    for o in load.outcomes:
        if o.status == 404:
            assert o.method != "POST" and o.path.rsplit("/", 1)[1] not in created, o
        elif o.status is not None:
            assert ok(o.status), load.summary()
    assert len(load.errors()) <= load.threads, load.errors()
    assert replaced_after < 10
    assert not missing_writes(mysql_e2e_url, load)
