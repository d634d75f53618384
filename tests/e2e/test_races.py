"""Races on a live threaded server against the real database(s): exactly one 201 per id."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.serving import make_server

from tests.helpers.builders import WDTESTS_URL as URL
from tests.helpers.live import request


@pytest.fixture
def live_port(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(5)


def test_racing_creates_of_one_id_give_exactly_one_201(live_port, client):
    barrier = threading.Barrier(8)

    def create(i):
        barrier.wait()
        return request(live_port, "POST", URL, {"id": "race", "name": f"n{i}"}, timeout=30).status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(8)))
    assert sorted(statuses) == [201] + [409] * 7
    assert client.get(f"{URL}?id=race").get_json()["total"] == 1
