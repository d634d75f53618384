"""Start-up in child processes: refusals with a clear message and a non-zero exit (an unset
APP_ENV is production), and ``make run`` serving development with no settings at all."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.env import clean_env
from tests.helpers.live import request
from tests.helpers.loadgen import wait_for
from tests.helpers.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def production_env(**extra):
    return clean_env(APP_ENV="prod", DATABASE_URL="sqlite://", **extra)


def test_production_start_exits_non_zero_with_a_clear_message():
    result = subprocess.run(
        [sys.executable, "-c", "import run"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to start" in result.stderr and "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_with_debug_from_env_exits_non_zero():
    result = subprocess.run(
        [sys.executable, "-c", "import run"],
        cwd=ROOT,
        env=production_env(SECRET_KEY="s3cret", APP_DEBUG="true"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "DEBUG" in result.stderr


def _run(*command: str) -> subprocess.CompletedProcess:
    env = clean_env(APP_ENV="test", DATABASE_URL="sqlite://")
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_served_app_loads_no_migration_tooling_but_the_flask_command_does():
    # Alembic and Mako are 10 MiB per gunicorn worker; only `flask db ...` needs them.
    check = "import sys; print(sorted(m for m in ('alembic', 'flask_migrate', 'mako') if m in sys.modules))"
    served = _run(sys.executable, "-c", f"import run; {check}")
    assert served.returncode == 0, served.stderr
    assert served.stdout.strip() == "[]"
    commands = _run(str(Path(sys.executable).with_name("flask")), "--app", "run", "db", "heads")
    assert commands.returncode == 0, commands.stderr
    assert "(head)" in commands.stdout  # needs the extension: app.extensions["migrate"]


def test_a_production_worker_loads_pika_with_its_first_amqp_call_only():
    # pika is 2 MiB per worker (bench/README.md, "Memory"); the queue endpoints and the
    # outbox relay load it on their first call (tests/api, tests/services cover those).
    check = "import sys; print(sorted(m for m in ('pika', 'extensions.amqp_pika') if m in sys.modules))"
    served = subprocess.run(
        [sys.executable, "-c", f"import run; {check}"],
        cwd=ROOT,
        # Every feature on: rate limits, metrics, Redis, RabbitMQ, production's checks.
        env=production_env(SECRET_KEY="s3cret-for-the-test", API_KEYS="k" * 20, RATELIMIT_ENABLED="true"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 0, served.stderr
    assert served.stdout.strip() == "[]"


def run_refused(command: list[str], env: dict[str, str], timeout: float = 30) -> tuple[int, str, float]:
    """Run ``command`` in a process group of its own; (exit status, stderr, seconds taken).
    Fails, killing the group, when it is still running after ``timeout``."""
    started = time.monotonic()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"{command[0]} kept running:\n{stderr[-2000:]}")
    return proc.returncode, stderr, time.monotonic() - started


def assert_one_line_refusal(stderr: str, missing: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("wdapi: refusing to start: ") and missing in lines[0], stderr


# Nothing but gunicorn's own plumbing: a free port and no control socket under $HOME, so a
# regression that starts serving collides with nothing.
GUNICORN_ONLY = {"GUNICORN_CONTROL_SOCKET": "off"}


@pytest.mark.parametrize(
    ("settings", "missing"), [({}, "SECRET_KEY"), ({"SECRET_KEY": "s3cret"}, "API_KEYS")]
)
def test_gunicorn_without_app_env_is_production_and_refuses_to_start(settings, missing):
    env = clean_env(BIND=f"127.0.0.1:{free_port()}", **GUNICORN_ONLY, **settings)
    env.pop("RATELIMIT_ENABLED")
    status, stderr, seconds = run_refused([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "run:app"], env)
    assert status != 0 and seconds < 15
    assert_one_line_refusal(stderr, missing)


def test_the_relay_without_app_env_refuses_to_start():
    env = clean_env()
    env.pop("RATELIMIT_ENABLED")
    status, stderr, seconds = run_refused([str(BIN / "flask"), "--app", "run", "outbox", "relay"], env)
    assert status != 0 and seconds < 15
    assert_one_line_refusal(stderr, "SECRET_KEY")


def test_make_run_serves_development_with_no_settings(tmp_path):
    port = free_port()
    # Only the database moves, to a file of the test's own: the worktree's instance/ stays as it was.
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}")
    env.pop("RATELIMIT_ENABLED")
    log = tmp_path / "make-run.out"
    with open(log, "w") as out:
        # -o: the virtualenv this test runs in is installed; make must not reinstall into it.
        make = subprocess.Popen(
            ["make", "-o", ".venv/.installed", "run", f"PORT={port}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:

        def healthy() -> bool:
            assert make.poll() is None, log.read_text()[-3000:]
            try:
                return request(port, "GET", "/healthz", timeout=2).status == 200
            except OSError:
                return False

        assert wait_for(healthy, timeout=120, interval=0.3), log.read_text()[-3000:]
        listed = request(port, "GET", "/api/v1/wdtests")
        assert listed.status == 200, listed.body  # development: reads need no key
        assert request(port, "GET", "/api/v1/demo/context").json()["environment"] == "dev"
    finally:
        os.killpg(make.pid, signal.SIGTERM)  # make and the server it started
        try:
            make.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
