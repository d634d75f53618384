"""The settings declaration: parsed once, bad values refused by name, and docs/configuration.md
written from it (``make docs``)."""

import re
from pathlib import Path

import pytest

from settings import CONFIGS, ConfigError, TestingConfig, defaults, load, reference
from settings.declaration import BY_KEY
from settings.derived import DERIVED, read_engine_options

ROOT = Path(__file__).resolve().parents[2]
TEST = {"ENV_NAME": "test"}


def test_docs_configuration_is_the_generators_output():
    written = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert written == reference.render(), "docs/configuration.md is stale: run `make docs`"


def test_the_reference_lists_every_setting_with_the_env_names_it_is_read_from():
    rows = {}
    for line in reference.render().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) == 5:
            rows[cells[0].strip("`")] = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[1]))
    assert set(rows) == set(BY_KEY)
    for key, env in rows.items():
        assert env <= set(BY_KEY[key].env_names), key
    assert rows["SQLALCHEMY_DATABASE_URI"] >= {"DATABASE_URL", "APP_SQLALCHEMY_DATABASE_URI"}
    assert rows["ENV_NAME"] == {"APP_ENV"}


def test_the_reference_shows_each_config_classes_overrides():
    text = reference.render()
    for name, cls in CONFIGS.items():
        assert f"`{name}` ({cls.__name__})" in text
    assert "| `RATELIMIT_ENABLED` |" in text  # TestingConfig turns limits off


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
    assert load({"ENV_NAME": "dev"})["DB_CONNECTION_SLOTS"] == slots


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


def test_the_read_engine_autocommits_without_ping_or_reset_and_fails_fast():
    url = "mysql+pymysql://u@db:3306/x?charset=utf8mb4"
    config = load({**TEST, "SQLALCHEMY_DATABASE_URI": url, "DB_FAIL_FAST": 0.4})
    options = read_engine_options(config)
    assert options is not None
    assert options["isolation_level"] == "AUTOCOMMIT" and options["skip_autocommit_rollback"]
    assert options["pool_reset_on_return"] is None and options["pool_pre_ping"] is False
    assert options["connect_args"] == {
        "connect_timeout": config["DB_CONNECT_TIMEOUT"],
        "read_timeout": 0.4,  # with no ping, the read's own timeout detects a dead server
        "write_timeout": 0.4,
    }
    assert options["pool_size"] == config["DB_POOL_SIZE"]
    # The session's engine keeps its transactions and read timeout; it does not ping either.
    assert config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is False
    assert config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["read_timeout"] == config["DB_READ_TIMEOUT"]
    # A read that waits for the cluster (DB_SYNC_WAIT) may wait out a view change: seconds.
    synced = read_engine_options({**config, "DB_SYNC_WAIT": 1})
    assert synced is not None and synced["connect_args"]["read_timeout"] == config["DB_READ_TIMEOUT"]
    # SQLite in memory: a second engine would open another, empty database.
    assert read_engine_options(load({**TEST, "SQLALCHEMY_DATABASE_URI": "sqlite://"})) is None


@pytest.mark.parametrize(
    ("url", "disabled"),
    [
        ("mysql+pymysql://u@127.0.0.1:3306/x", True),
        ("mysql+pymysql://u@localhost/x?unix_socket=/run/mysqld/mysqld.sock", True),
        ("mysql+pymysql://u@db:3306/x", False),
        ("mysql+pymysql://u@127.0.0.1:3306/x?ssl_ca=/etc/ca.pem", False),
    ],
)
def test_pymysql_tries_no_tls_over_loopback(url, disabled):
    # Each attempt builds an SSL context with the system CA store (bench/README.md, memory).
    config = load({**TEST, "SQLALCHEMY_DATABASE_URI": url})
    reads = read_engine_options(config)
    assert reads is not None
    for options in (config["SQLALCHEMY_ENGINE_OPTIONS"], reads):
        assert options["connect_args"].get("ssl_disabled", False) is disabled


def test_no_removed_setting_is_declared():
    assert "JSON_SORT_KEYS" not in BY_KEY and "MIGRATIONS_DIR" not in BY_KEY


def test_an_empty_number_or_flag_variable_means_its_default_and_an_empty_string_is_empty(monkeypatch):
    monkeypatch.setenv("GUNICORN_ACCESSLOG", "")
    monkeypatch.setenv("WEB_CONCURRENCY", "")
    monkeypatch.setenv("REDIS_URL", "")  # empty: the app runs without Redis
    config = load(TEST)
    assert config["GUNICORN_ACCESSLOG"] is True and config["WEB_CONCURRENCY"] is None
    assert config["REDIS_URL"] == ""
