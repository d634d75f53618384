"""gunicorn's gthread worker with ``/healthz`` on a thread of its own (``worker_class``).

gthread hands every readable connection to one FIFO thread pool. When the database is
black-holed, that queue fills with requests that each hold a thread until they fail, and a
liveness probe waits behind them (seen: 1.1-3.3 s with 16 clients on 2 x 4 threads). Here
the worker's loop peeks at what a connection has sent before it queues it: a complete,
bodiless ``GET``/``HEAD /healthz`` goes to a one-thread pool that nothing else uses, so it
is answered (by the app, like any request) while the worker's loop is alive, whatever the
other threads wait for. A connection that has sent nothing yet waits on the loop's poller
(gthread's own "pending" list) instead of in a thread, so its request is peeked at too.

At stop, idle kept-alive connections keep their timeout (``_cap_keepalive``).

Proved by tests/e2e/test_gunicorn.py::test_healthz_answers_while_every_thread_is_busy and
tests/e2e/test_dependency_faults.py::test_healthz_answers_while_a_black_holed_database_holds_the_threads
(the health thread), tests/e2e/test_front_door.py::test_fifty_slow_clients_do_not_delay_other_requests
(silent connections on the poller),
tests/e2e/test_restarts.py::test_rolling_restart_behind_nginx_fails_no_request (the kept
keep-alive timeout at stop); tests/unit/test_workers.py for the peek's rule.
"""

from __future__ import annotations

import re
import socket
from concurrent import futures

from gunicorn.workers import gthread

# The whole head must be there (never a blocking read on the health thread) and carry no
# body (nothing to drain): anything else takes the ordinary pool.
PEEK = 2048
HEALTH_HEAD = re.compile(rb"(?:GET|HEAD) /healthz(?:\?[^ ]*)? HTTP/1\.[01]\r\n")
BODY_HEADER = re.compile(rb"\r\n(?:content-length|transfer-encoding)\s*:", re.IGNORECASE)


def is_health_head(head: bytes) -> bool:
    end = head.find(b"\r\n\r\n")
    return end >= 0 and HEALTH_HEAD.match(head) is not None and not BODY_HEADER.search(head, 0, end + 2)


class ThreadWorker(gthread.ThreadWorker):
    def init_process(self):
        self.health_pool = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz")
        super().init_process()

    def enqueue_req(self, conn):
        """On the loop's thread (accept, a kept-alive or pending connection readable, or a
        request already buffered after the last one): pick the pool."""
        head = self._peek(conn)
        if head is None and self.alive and self.cfg.keepalive:
            # Nothing sent yet: gthread's "deferred" path puts it on the poller for up to
            # GUNICORN_KEEPALIVE seconds, no thread held meanwhile.
            waiting: futures.Future = futures.Future()
            waiting.set_result(gthread._DEFER)
            self.finish_request(conn, waiting)
        elif head and is_health_head(head):
            done = self.health_pool.submit(self.handle, conn)
            done.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))
        else:
            super().enqueue_req(conn)

    @staticmethod
    def _peek(conn) -> bytes | None:
        """What the client has sent and gunicorn not yet parsed; None: nothing yet."""
        if conn.parser is not None:
            buffered = conn.parser.unreader.buf.getvalue()
            if buffered:
                return buffered[:PEEK]
        if conn.cfg.is_ssl:
            return b""  # no peeking under TLS: the ordinary pool
        try:
            return conn.sock.recv(PEEK, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        except OSError:
            return b""  # reset or closed: the ordinary pool reads the error and closes

    def _cap_keepalive(self, deadline):
        """Not at stop: an idle kept-alive connection stays open for its GUNICORN_KEEPALIVE
        (5 s), not gthread's 2 s linger. A proxy closes an idle upstream connection after its
        own, shorter timeout (nginx: 4 s); a server that closes one first can cut a request
        the proxy is sending on it, and nginx never resends a POST or PATCH it sent."""

    def handle_quit(self, sig, frame):
        self.health_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)
