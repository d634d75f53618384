"""Global request hooks: request id, path filter, API-key auth, timing."""

import logging

import pytest

from factory import create_app
from settings import ConfigError
from tests.helpers.problems import assert_problem

KEYS = ("key-one-0123456789", "key-two-abcdefghij")


@pytest.fixture
def app_config():
    return {"API_KEYS": ",".join(KEYS)}


# --- request id ---------------------------------------------------------------


def test_sane_client_request_id_is_kept(http):
    response = http.get("/api/v1/demo/context", headers={"X-Request-ID": "client-42:abc"})
    assert response.headers["X-Request-ID"] == "client-42:abc"
    assert response.get_json()["request_id"] == "client-42:abc"


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "tab\there", "ünïcode"])
def test_insane_request_id_is_replaced(http, bad):
    response = http.get("/healthz", headers={"X-Request-ID": bad.encode().decode("latin-1")})
    rid = response.headers["X-Request-ID"]
    assert rid != bad and len(rid) == 32 and rid.isalnum()


def test_generated_ids_differ_and_errors_carry_one(http):
    first = http.get("/healthz").headers["X-Request-ID"]
    second = assert_problem(http.get("/api/v1/nope"), 404)
    assert second["instance"] == "/api/v1/nope"
    assert http.get("/healthz").headers["X-Request-ID"] != first


def test_request_id_reaches_log_lines(http, capsys):
    http.get("/api/v1/exceptions/crash", headers={"X-Request-ID": "trace-me-1"})
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "unhandled exception" in line)
    assert "[trace-me-1]" in line and " ERROR api.contract.errors " in line


def test_server_timing_header(http):
    timing = http.get("/healthz").headers["Server-Timing"]
    assert timing.startswith("app;dur=") and float(timing.split("=")[1]) >= 0


# --- path filter --------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/index", "/static/app.js", "/docs/x", "/api/v2/wdtests", "/healthz/x"]
)
def test_paths_outside_the_known_prefixes_are_404(http, path):
    assert assert_problem(http.get(path), 404)["instance"] == path


@pytest.mark.parametrize("path", ["/docs", "/api/v1/swagger.json", "/swaggerui/swagger-ui.css", "/healthz"])
def test_known_open_paths_pass(http, path):
    with http.get(path) as response:  # closes the static file
        assert response.status_code == 200


# --- API-key auth -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/wdtests"),
        ("put", "/api/v1/wdtests/x"),
        ("patch", "/api/v1/wdtests/x"),
        ("delete", "/api/v1/wdtests/x"),
        ("post", "/api/v1/demo/echo"),
    ],
)
def test_mutations_without_key_are_401(http, method, path):
    response = getattr(http, method)(path, json={"name": "a"})
    body = assert_problem(response, 401)
    assert "X-API-Key" in body["detail"]
    assert response.headers["WWW-Authenticate"].startswith("ApiKey ")


def test_wrong_key_is_401_and_never_logged(http, capsys, caplog):
    with caplog.at_level(logging.DEBUG):
        response = http.post("/api/v1/demo/echo", headers={"X-API-Key": "wrong-secret-zzz"})
    assert_problem(response, 401)
    logged = capsys.readouterr().err + caplog.text
    assert "API key rejected" in logged
    assert "wrong-secret-zzz" not in logged and KEYS[0] not in logged


@pytest.mark.parametrize("key", KEYS)
def test_any_valid_key_is_accepted(http, key):
    response = http.post("/api/v1/wdtests", json={"name": "keyed"}, headers={"X-API-Key": key})
    assert response.status_code == 201


def test_prefix_of_a_key_is_rejected(http):
    assert_problem(http.post("/api/v1/demo/users/1", headers={"X-API-Key": KEYS[0][:-1]}), 401)


def test_non_ascii_key_is_401_not_500(http):
    headers = {"X-API-Key": "clé".encode().decode("latin-1")}
    assert_problem(http.post("/api/v1/demo/users/1", headers=headers), 401)


def test_reads_and_open_endpoints_need_no_key(http):
    for path in ("/api/v1/wdtests", "/api/v1/swagger.json", "/docs", "/healthz", "/readyz"):
        assert http.get(path).status_code in (200, 503), path


def test_unknown_path_mutation_is_401_before_404(http):
    # Auth runs before routing, so probing for routes without a key learns nothing.
    assert_problem(http.post("/api/v1/nope"), 401)


@pytest.mark.parametrize("app_config", [{"API_KEYS": KEYS[0], "API_READ_AUTH": "true"}])
def test_read_auth_extends_to_gets(http):
    assert_problem(http.get("/api/v1/wdtests"), 401)
    assert http.get("/api/v1/wdtests", headers={"X-API-Key": KEYS[0]}).status_code == 200
    assert http.get("/api/v1/swagger.json").status_code == 200
    assert http.get("/healthz").status_code == 200


@pytest.mark.parametrize("app_config", [{}])
def test_auth_off_without_keys(http):
    assert http.post("/api/v1/wdtests", json={"name": "open"}).status_code == 201


@pytest.mark.parametrize("app_config", [{"API_KEYS": KEYS[0], "API_AUTH_DISABLED": "true"}])
def test_auth_disabled_explicitly(http):
    assert http.post("/api/v1/demo/users/7").get_json() == {"id": "7"}


def test_keys_file_is_read(sqlite_url, tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text("# comment\n\nfile-key-1\n  file-key-2  \n")
    app = create_app(
        {"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": sqlite_url, "API_KEYS_FILE": str(keys_file)}
    )
    http = app.test_client()
    assert app.config["API_KEYS"] == ("file-key-1", "file-key-2")
    assert http.post("/api/v1/demo/users/1", headers={"X-API-Key": "file-key-2"}).status_code == 200
    assert_problem(http.post("/api/v1/demo/users/1", headers={"X-API-Key": "# comment"}), 401)


PROD = {"ENV_NAME": "prod", "SECRET_KEY": "a-real-secret-for-tests", "SQLALCHEMY_DATABASE_URI": "sqlite://"}


def test_production_refuses_to_start_without_keys():
    with pytest.raises(ConfigError, match="API_KEYS"):
        create_app(PROD)


def test_production_starts_with_keys_or_explicit_opt_out():
    assert create_app({**PROD, "API_KEYS": "k" * 20}).config["API_KEYS"] == ("k" * 20,)
    assert create_app({**PROD, "API_AUTH_DISABLED": "true"}).config["API_AUTH_DISABLED"] is True


def test_production_env_vars_are_parsed(monkeypatch):
    monkeypatch.setenv("API_AUTH_DISABLED", "yes")
    monkeypatch.setenv("CORS_ORIGINS", "http://a.test, http://b.test")
    app = create_app(PROD)
    assert app.config["API_AUTH_DISABLED"] is True
    assert app.config["CORS_ORIGINS"] == ("http://a.test", "http://b.test")


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("API_KEYS_FILE", "/nonexistent/keys", "API_KEYS_FILE"),
        ("API_READ_AUTH", "maybe", "true or false"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("READY_REQUIRES", "database,mongo", "READY_REQUIRES"),
        ("TRUSTED_PROXIES", "-1", "TRUSTED_PROXIES"),
        ("LOG_FILE_BACKUPS", "ten", "LOG_FILE_BACKUPS"),
        ("API_KEYS", "has space", "API keys"),
    ],
)
def test_bad_operations_settings_refuse_to_start(setting, value, message):
    with pytest.raises(ConfigError, match=message):
        create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://", setting: value})
