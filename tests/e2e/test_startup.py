"""Start-up refusals of ``run`` in a child process: a clear message and a non-zero exit."""

import subprocess
import sys
from pathlib import Path

from tests.helpers.env import clean_env

ROOT = Path(__file__).resolve().parents[2]


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
