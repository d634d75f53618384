"""Which requests the worker's loop sends to the /healthz thread (serving/workers.py)."""

import pytest

from serving.workers import is_health_head


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /healthz HTTP/1.0\r\n\r\n",
        b"GET /healthz?probe=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/wdtests HTTP/1.1\r\n",  # pipelined
    ],
)
def test_a_complete_bodiless_health_probe_takes_the_health_thread(head):
    assert is_health_head(head)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",  # head not complete: the read could block
        b"GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",  # a body to drain
        b"POST /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthzz HTTP/1.1\r\n\r\n",
        b"GET /readyz HTTP/1.1\r\n\r\n",  # readyz asks the database: the ordinary pool
        b"GET /api/v1/wdtests HTTP/1.1\r\nX-Note: /healthz\r\n\r\n",
        b"",
    ],
)
def test_anything_else_takes_the_ordinary_pool(head):
    assert not is_health_head(head)
