"""The settings declaration: parsed once, bad values refused by name, and the README tables true to it."""

import re
from pathlib import Path

import pytest

from settings import ConfigError, TestingConfig, defaults, load
from settings.declaration import BY_KEY, SETTINGS
from settings.derived import DERIVED

ROOT = Path(__file__).resolve().parents[2]
TEST = {"ENV_NAME": "test"}


def readme_tables() -> list[list[list[str]]]:
    tables, current = [], []
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif current:
            tables.append(current)
            current = []
    return tables


def names(cell: str) -> list[str]:
    return re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)


def documented() -> tuple[dict[str, str], set[str]]:
    """(setting -> env var) from the settings tables, and the env vars of the gunicorn table."""
    by_setting: dict[str, str] = {}
    gunicorn_env: set[str] = set()
    for header, _, *rows in readme_tables():
        if header[0] == "setting" and header[1] in ("env var", "environment variable"):
            for row in rows:
                (key,), (env,) = names(row[0]), names(row[1])
                by_setting[key] = env
        elif header[:3] == ["tutorial option", "gunicorn.conf.py", "env var"]:
            for row in rows:
                gunicorn_env.update(names(row[2]))
    return by_setting, gunicorn_env


def test_every_declared_setting_is_in_a_readme_table_and_back():
    by_setting, gunicorn_env = documented()
    all_env_names = {name for setting in SETTINGS for name in setting.env_names}
    missing = {s.key for s in SETTINGS if s.key not in by_setting and s.key not in gunicorn_env}
    assert not missing, f"declared but not in README.md: {sorted(missing)}"
    undeclared = set(by_setting) - set(BY_KEY)
    assert not undeclared, f"in README.md but not declared: {sorted(undeclared)}"
    wrong_env = {k: env for k, env in by_setting.items() if env not in BY_KEY[k].env_names}
    assert not wrong_env, f"README.md env names the declaration does not read: {wrong_env}"
    assert gunicorn_env <= all_env_names, sorted(gunicorn_env - all_env_names)


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("RABBIT_PORT", "x"),
        ("APP_DB_POOL_SIZE", "x"),
        ("APP_OUTBOX_BATCH_SIZE", "y"),
        ("OUTBOX_BATCH_SIZE", "0"),
        ("READY_REQUIRES", "database,disk"),
        ("LOG_LEVEL", "LOUD"),
        ("GUNICORN_THREADS", "many"),
        ("API_READ_AUTH", "maybe"),
        ("SQLALCHEMY_ENGINE_OPTIONS", "{not json"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=rf"\b{env}="):
        load(TEST)


def test_every_bad_variable_is_named_at_once(monkeypatch):
    monkeypatch.setenv("RABBIT_PORT", "x")
    monkeypatch.setenv("CACHE_TTL", "-1")
    with pytest.raises(ConfigError) as err:
        load(TEST)
    assert "RABBIT_PORT=" in str(err.value) and "CACHE_TTL=" in str(err.value)


def test_key_and_app_key_are_read_and_app_key_wins(monkeypatch):
    monkeypatch.setenv("OUTBOX_BATCH_SIZE", "5")
    assert load(TEST)["OUTBOX_BATCH_SIZE"] == 5
    monkeypatch.setenv("APP_OUTBOX_BATCH_SIZE", "7")
    assert load(TEST)["OUTBOX_BATCH_SIZE"] == 7


def test_values_are_typed_whatever_the_layer(monkeypatch, tmp_path):
    settings_file = tmp_path / "s.py"
    settings_file.write_text("READY_TIMEOUT = '1.5'\nCORS_ORIGINS = ['a', ' b ']\n")
    monkeypatch.setenv("APP_SETTINGS", str(settings_file))
    config = load({**TEST, "REDIS_MAX_CONNECTIONS": "4", "API_AUTH_DISABLED": "on"})
    assert config["READY_TIMEOUT"] == 1.5 and config["CORS_ORIGINS"] == ("a", "b")
    assert config["REDIS_MAX_CONNECTIONS"] == 4 and config["API_AUTH_DISABLED"] is True


def test_defaults_parse_as_declared():
    parsed = load(TEST)
    for key, default in defaults().items():
        if key not in vars(TestingConfig) and key not in DERIVED:  # set by the class, or computed
            assert parsed[key] == default, key


@pytest.mark.parametrize(
    ("env", "slots"),
    [
        ({}, 3),  # GUNICORN_THREADS 4: one thread never waits for the database
        ({"GUNICORN_THREADS": "8"}, 7),
        ({"GUNICORN_THREADS": "1"}, 0),  # one thread: no cap
        ({"DB_CONNECTION_SLOTS": "5"}, 5),  # an explicit value wins
        ({"DB_CONNECTION_SLOTS": "0"}, 0),
        ({"DB_CONNECTION_SLOTS": ""}, 3),  # empty: unset
    ],
)
def test_connection_slots_follow_the_threads_unless_set(monkeypatch, env, slots):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load({"ENV_NAME": "prod"})["DB_CONNECTION_SLOTS"] == slots


def test_tests_run_without_connection_slots(monkeypatch):
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    assert load(TEST)["DB_CONNECTION_SLOTS"] == 0


def test_the_default_database_is_in_the_instance_folder_and_engine_options_are_derived(tmp_path):
    config = load(TEST, root_path=str(tmp_path), instance_path=str(tmp_path / "inst"))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'inst' / 'wdapi.sqlite3'}"
    assert config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == config["DB_POOL_SIZE"]
    assert not (tmp_path / "inst").exists()  # the loader computes; the database extension creates
    # Unset, Flask's instance folder of an app that is not an installed package.
    default = load(TEST, root_path=str(tmp_path))["SQLALCHEMY_DATABASE_URI"]
    assert default == f"sqlite:///{tmp_path / 'instance' / 'wdapi.sqlite3'}"


def test_explicit_engine_options_are_applied_last():
    config = load(
        {
            **TEST,
            "SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/x.db",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1},
        }
    )
    assert config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 1
    assert config["SQLALCHEMY_ENGINE_OPTIONS"]["max_overflow"] == config["DB_MAX_OVERFLOW"]
    assert (
        "pool_size" not in load({**TEST, "SQLALCHEMY_DATABASE_URI": "sqlite://"})["SQLALCHEMY_ENGINE_OPTIONS"]
    )


def test_no_removed_setting_is_declared():
    assert "JSON_SORT_KEYS" not in BY_KEY and "MIGRATIONS_DIR" not in BY_KEY


def test_an_empty_number_or_flag_variable_means_its_default_and_an_empty_string_is_empty(monkeypatch):
    monkeypatch.setenv("GUNICORN_ACCESSLOG", "")
    monkeypatch.setenv("WEB_CONCURRENCY", "")
    monkeypatch.setenv("REDIS_URL", "")  # empty: the app runs without Redis
    config = load(TEST)
    assert config["GUNICORN_ACCESSLOG"] is True and config["WEB_CONCURRENCY"] is None
    assert config["REDIS_URL"] == ""
