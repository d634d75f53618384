"""Database failures: no 500 after a dropped connection, a prompt 503 when the database
cannot be reached. (The race for one id runs on a live server: tests/e2e/test_races.py.)"""

import os
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from extensions import db
from factory import create_app
from tests.helpers.builders import WDTESTS_URL as URL
from tests.helpers.faultproxy import BLACKHOLE, FORWARD, FaultProxy
from tests.helpers.loadgen import wait_for
from tests.helpers.problems import assert_problem
from tests.helpers.require import need


def test_killed_connection_is_replaced_without_a_500(app, client, backend):
    if backend != "mysql":
        pytest.skip("server-side connection kill applies to MySQL/MariaDB")
    assert client.post(URL, json={"id": "k", "name": "kept"}).status_code == 201
    assert client.get(f"{URL}/k").status_code == 200
    with app.app_context():
        pooled = []
        for engine in (db.engine, db.read_engine):  # the session's (writes) and the reads'
            with engine.connect() as conn:
                pooled.append(conn.execute(text("SELECT CONNECTION_ID()")).scalar())
        # What a server restart or wait_timeout does to an idle pooled connection.
        killer = create_engine(db.engine.url)
        with killer.connect() as other:
            for pooled_id in pooled:
                other.execute(text(f"KILL {pooled_id}"))
        killer.dispose()
    # Readiness checks on the session's engine, which does not ping: a stale connection is not "down".
    assert client.get("/readyz").get_json()["database"] == "ok"
    for n in range(3):
        assert client.get(f"{URL}/k").status_code == 200
        assert client.patch(f"{URL}/k", json={"age": n}).status_code == 200


def test_unreachable_database_is_a_prompt_503(tmp_path):
    app = create_app(
        {
            "ENV_NAME": "test",
            "SQLALCHEMY_DATABASE_URI": "mysql+pymysql://root@127.0.0.1:9/test",
            "SQLALCHEMY_ECHO": False,
        }
    )
    client = app.test_client()
    started = time.monotonic()
    body = assert_problem(client.get(f"{URL}/x"), 503)
    assert time.monotonic() - started < 5
    assert "database" in body["detail"].lower()
    assert_problem(client.post(URL, json={"name": "x"}), 503)


@pytest.fixture
def blackholed_mysql():
    """An app on MariaDB through a fault proxy (TEST_DATABASE_URL), and the proxy."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        need("TEST_DATABASE_URL is not set: the black-holed MariaDB is not tested")
    target = make_url(url)
    with FaultProxy(target.host or "127.0.0.1", target.port or 3306) as proxy:
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        app = create_app(
            {"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": proxied, "SQLALCHEMY_ECHO": False}
            | {"DB_BREAKER_RESET": 1.0, "DB_FAIL_FAST": 0.5}
        )
        with app.app_context():
            db.create_all()
        try:
            yield app, proxy
        finally:
            proxy.mode = FORWARD
            with app.app_context():
                db.engine.dispose()


def test_black_holed_database_opens_the_breaker_and_recovers(blackholed_mysql):
    app, proxy = blackholed_mysql
    client = app.test_client()
    assert client.get(f"{URL}/nothing").status_code == 404  # a pooled connection
    proxy.mode = BLACKHOLE
    timings = []
    for _ in range(6):
        started = time.monotonic()
        response = client.get(f"{URL}/nothing")
        timings.append(time.monotonic() - started)
        assert_problem(response, 503)
        assert int(response.headers["Retry-After"]) >= 1
    # The first read waits out its read timeout (DB_FAIL_FAST, not DB_READ_TIMEOUT) and its
    # retry's handshake: two failures, the breaker opens, and answers every request after it.
    assert timings[0] < app.config["DB_READ_TIMEOUT"], timings
    assert max(timings[1:]) < 0.2, timings
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["database_circuit"] == "open"
    proxy.mode = FORWARD
    # After DB_BREAKER_RESET one request probes, succeeds and closes the breaker.
    assert wait_for(lambda: client.get(f"{URL}/nothing").status_code == 404, 10)
    assert client.get("/readyz").get_json()["database_circuit"] == "closed"


def test_a_new_connection_to_a_black_holed_server_fails_fast(blackholed_mysql):
    app, proxy = blackholed_mysql
    with app.app_context():
        with db.engine.connect() as conn:  # a statement keeps the longer read timeout
            assert conn.execute(text("SELECT SLEEP(:s)"), {"s": app.config["DB_FAIL_FAST"] * 2}).scalar() == 0
        db.engine.dispose()  # what a write's retry meets after a lost connection: a new one
        proxy.mode = BLACKHOLE
        started = time.monotonic()
        with pytest.raises(OperationalError):
            db.engine.connect()
        # The server's greeting is awaited DB_FAIL_FAST, not DB_READ_TIMEOUT.
        assert time.monotonic() - started < app.config["DB_READ_TIMEOUT"]
