"""Races and database failures: exactly one 201 per id, no 500 after a dropped connection,
a prompt 503 when the database cannot be reached."""

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from extensions import db
from factory import create_app
from tests.api.test_wdtests_crud import URL, assert_problem


@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def post(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_racing_creates_of_one_id_give_exactly_one_201(live_url, client):
    barrier = threading.Barrier(8)

    def create(i):
        barrier.wait()
        return post(f"{live_url}{URL}", {"id": "race", "name": f"n{i}"})

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(8)))
    assert sorted(statuses) == [201] + [409] * 7
    assert client.get(f"{URL}?id=race").get_json()["total"] == 1


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
