"""/metrics under gunicorn: counts from every worker add up (prometheus_client's multiprocess mode)."""

import re
from concurrent.futures import ThreadPoolExecutor

from tests.helpers.live import request

REQUESTS = 40


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition (0 when absent)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{k}="{v}"' in match[1].split(",") for k, v in labels.items()):
            return float(match[2])
    return 0.0


def test_counts_from_both_workers_add_up(server):
    def slow(_):
        response = request(server.port, "GET", "/api/v1/test/slow?s=0.05")  # its own connection
        assert response.status == 200
        return response.json()["pid"]

    with ThreadPoolExecutor(8) as pool:
        pids = set(pool.map(slow, range(REQUESTS)))
    assert len(pids) == 2, "both workers served requests"
    response = request(server.port, "GET", "/metrics")
    assert response.status == 200
    assert response.header("Content-Type").startswith("text/plain")
    text = response.body.decode()
    labels = {"endpoint": "slow", "method": "GET", "status": "200"}
    assert sample(text, "wdapi_requests_total", **labels) == REQUESTS
    assert sample(text, "wdapi_request_duration_seconds_count", **labels) == REQUESTS
    assert sample(text, "wdapi_request_duration_seconds_bucket", le="0.025", **labels) == 0  # slept 0.05
    assert "wdapi_db_pool_connections_in_use" in text
