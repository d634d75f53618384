"""Database failures: no 500 after a dropped connection, a prompt 503 when the database
cannot be reached. (The race for one id runs on a live server: tests/e2e/test_races.py.)"""

import time

import pytest
from sqlalchemy import create_engine, text

from extensions import db
from factory import create_app
from tests.helpers.builders import WDTESTS_URL as URL
from tests.helpers.problems import assert_problem


def test_killed_connection_is_replaced_without_a_500(app, client, backend):
    if backend != "mysql":
        pytest.skip("server-side connection kill applies to MySQL/MariaDB")
    assert client.post(URL, json={"id": "k", "name": "kept"}).status_code == 201
    with app.app_context():
        with db.engine.connect() as conn:
            pooled_id = conn.execute(text("SELECT CONNECTION_ID()")).scalar()
        # What a server restart or wait_timeout does to an idle pooled connection.
        killer = create_engine(db.engine.url)
        with killer.connect() as other:
            other.execute(text(f"KILL {pooled_id}"))
        killer.dispose()
    for _ in range(3):
        assert client.get(f"{URL}/k").status_code == 200


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
