"""Settings: classes by APP_ENV, a settings file, env overrides, their order, and safety checks."""

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from extensions.database import GuardedPool
from factory import create_app
from settings import DEFAULT_SECRET_KEY, ConfigError, load
from settings.derived import DERIVED

ROOT = Path(__file__).resolve().parents[2]
SQLITE = "sqlite://"


def test_an_unset_app_env_is_production_and_refuses_without_its_settings(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", SQLITE)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    with pytest.raises(ConfigError, match="API_KEYS"):
        create_app()
    monkeypatch.setenv("API_KEYS", "k" * 20)
    app = create_app()
    assert app.config["ENV_NAME"] == "prod"
    assert (app.debug, app.testing, app.config["SQLALCHEMY_ECHO"]) == (False, False, False)
    assert (app.config["API_READ_AUTH"], app.config["DEMOS_ENABLED"]) == (True, False)


def test_dev_is_development_with_sql_echo(monkeypatch):
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", SQLITE)
    app = create_app()
    assert app.config["ENV_NAME"] == "dev"
    assert app.config["SQLALCHEMY_ECHO"] is True
    assert not app.testing


@pytest.mark.parametrize(("env", "debug", "testing"), [("dev", True, False), ("test", False, True)])
def test_app_env_chooses_the_class(monkeypatch, env, debug, testing):
    monkeypatch.setenv("APP_ENV", env)
    monkeypatch.setenv("DATABASE_URL", SQLITE)
    app = create_app()
    assert (app.config["ENV_NAME"], app.debug, app.testing) == (env, debug, testing)


def test_unknown_app_env_is_refused(monkeypatch):
    monkeypatch.setenv("APP_ENV", "staging")
    with pytest.raises(ConfigError, match="APP_ENV"):
        create_app()


def test_default_database_is_sqlite_in_instance_folder(monkeypatch):
    app = create_app("test")
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    assert url.get_backend_name() == "sqlite"
    assert url.database == os.path.join(app.instance_path, "wdapi.sqlite3")
    assert os.path.isdir(app.instance_path)  # created by the database extension


def test_settings_file_from_envvar(monkeypatch, tmp_path):
    settings_file = tmp_path / "local.py"
    settings_file.write_text("LOG_LEVEL = 'DEBUG'\nDB_POOL_SIZE = 3\nSQLALCHEMY_DATABASE_URI = 'sqlite://'\n")
    monkeypatch.setenv("APP_SETTINGS", str(settings_file))
    app = create_app("test")
    assert app.config["LOG_LEVEL"] == "DEBUG"
    assert app.config["DB_POOL_SIZE"] == 3


def test_missing_settings_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_SETTINGS", str(tmp_path / "absent.py"))
    with pytest.raises(OSError):
        create_app("test")


def test_plain_environment_overrides(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    app = create_app("test")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/elsewhere.db"
    assert app.config["SECRET_KEY"] == "s3cret"
    assert app.config["LOG_LEVEL"] == "WARNING"


def test_prefixed_environment_is_json_typed(monkeypatch):
    monkeypatch.setenv("APP_DB_POOL_SIZE", "7")
    monkeypatch.setenv("APP_MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("APP_SQLALCHEMY_DATABASE_URI", "sqlite:////tmp/x.db")
    app = create_app("test")
    assert app.config["DB_POOL_SIZE"] == 7
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 7


def test_later_sources_win(monkeypatch, tmp_path):
    settings_file = tmp_path / "s.py"
    settings_file.write_text(
        "LOG_LEVEL = 'DEBUG'\nDB_POOL_SIZE = 3\nDB_MAX_OVERFLOW = 4\nDB_POOL_TIMEOUT = 5\n"
    )
    monkeypatch.setenv("APP_SETTINGS", str(settings_file))
    monkeypatch.setenv("DATABASE_URL", SQLITE)
    monkeypatch.setenv("LOG_LEVEL", "ERROR")  # env beats the file
    monkeypatch.setenv("APP_DB_POOL_SIZE", "8")  # prefixed env beats the file
    monkeypatch.setenv("APP_DB_MAX_OVERFLOW", "6")
    app = create_app({"ENV_NAME": "test", "DB_MAX_OVERFLOW": 9})  # the mapping beats all
    assert app.config["LOG_LEVEL"] == "ERROR"
    assert app.config["DB_POOL_SIZE"] == 8
    assert app.config["DB_MAX_OVERFLOW"] == 9
    assert app.config["DB_POOL_TIMEOUT"] == 5  # only the file set it


def test_pool_options_reach_the_engine(monkeypatch, tmp_path):
    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db"})
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] == 10
    assert options["pool_timeout"] == 10
    assert options["max_overflow"] == 2
    assert options["pool_pre_ping"] is False  # a dead connection fails its statement: retried
    assert options["pool_recycle"] > 0
    with app.app_context():
        from extensions import db

        pool = db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (10, 2, 10)


def test_the_breaker_joins_the_engine_and_the_config_stays_as_loaded(tmp_path):
    config = {
        "ENV_NAME": "test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/b.db",
        "DB_CONNECTION_SLOTS": 2,
    }
    app = create_app(config)
    assert "poolclass" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    loaded = load(config, root_path=app.root_path, instance_path=app.instance_path)
    assert {key: app.config[key] for key in DERIVED} == {key: loaded[key] for key in DERIVED}
    with app.app_context():
        from extensions import db

        assert isinstance(db.engine.pool, GuardedPool)
        assert db.breaker is db.engine.pool.breaker and db.breaker.slots == 2


def test_plain_env_vars_reach_the_app_config(monkeypatch):
    monkeypatch.setenv("RABBIT_HOST", "broker.local")
    monkeypatch.setenv("RABBIT_PORT", "5600")
    monkeypatch.setenv("WDTEST_EVENTS_EXCHANGE", "custom.events")
    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["AMQP_URL"] == "amqp://guest:guest@broker.local:5600/%2F"
    assert app.config["WDTEST_EVENTS_EXCHANGE"] == "custom.events"
    monkeypatch.setenv("AMQP_URL", "amqp://a:b@127.0.0.1:1/%2F")
    assert (
        create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
        .config["AMQP_URL"]
        .endswith(":1/%2F")
    )


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:p@db:3306/test",
        "mysql+pymysql://u:p@db:3306/test?charset=utf8",
        "mysql+pymysql://u:p@db:3306/test",
    ],
)
def test_mysql_urls_use_pymysql_and_utf8mb4(url):
    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": url})
    parsed = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    assert parsed.drivername == "mysql+pymysql"
    assert parsed.query["charset"] == "utf8mb4"
    assert parsed.password == "p"
    connect_args = app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert connect_args["connect_timeout"] > 0 and connect_args["read_timeout"] > 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"SECRET_KEY": "s3cret", "DEBUG": True}, "DEBUG"),
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": DEFAULT_SECRET_KEY}, "SECRET_KEY"),
    ],
)
def test_production_refuses_unsafe_settings(config, message):
    with pytest.raises(ConfigError, match=message):
        create_app({"ENV_NAME": "prod", "SQLALCHEMY_DATABASE_URI": SQLITE, **config})
