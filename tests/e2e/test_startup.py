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
