"""The shell cannot change a result: ``API_KEYS=abc make test`` passes like ``make test``.

Runs a few tests of the suite in a child pytest whose environment sets the app's
variables to hostile values; the session fixture in tests/conftest.py clears them.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.env import app_env_names

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = {
    "API_KEYS": "abc",  # every write would be a 401
    "API_READ_AUTH": "true",
    "APP_ENV": "prod",  # would refuse to start
    "APP_API_READ_AUTH": "true",
    "APP_SETTINGS": "/nonexistent/settings.py",
    "DATABASE_URL": "mysql+pymysql://root@127.0.0.1:9/nothing",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "REDIS_KEY_PREFIX": "shell:",
    "CACHE_TTL": "0",
    "AMQP_URL": "amqp://guest:guest@127.0.0.1:9/%2F",
    "RABBIT_HOST": "nowhere.invalid",
    "LOG_FORMAT": "json",
    "LOG_FILE": "/nonexistent/dir/wdapi.log",
    "CORS_ORIGINS": "http://evil.example",
    "FLASK_DEBUG": "1",
}
TESTS = [
    "tests/api/test_wdtests_crud.py::test_create_returns_201_record_and_location",
    "tests/api/test_cors.py",
    "tests/api/test_request_filters.py::test_sane_client_request_id_is_kept",
    "tests/services/test_settings.py::test_default_database_is_sqlite_in_instance_folder",
]


def test_every_hostile_variable_is_one_the_scrub_knows():
    assert app_env_names(HOSTILE) == set(HOSTILE)


def test_app_variables_in_the_shell_change_no_result(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "REQUIRE_SERVICES")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not mysql", *TESTS],
        cwd=ROOT,
        env={**env, **HOSTILE},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
