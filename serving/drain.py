"""The drain on SIGTERM: a rolling restart behind a proxy that fails no request.

Fault: a server that simply stops closes the proxy's pooled keep-alive connections under it
and resets handshakes it has not yet accepted; nginx never resends a POST or PATCH it sent
on such a connection, so the client gets a 502. Here SIGTERM to the arbiter first drains
for GUNICORN_DRAIN_DELAY seconds: every worker answers /readyz with 503 (``wdapi.draining``
in the WSGI environ) and closes each connection after its response, so the proxy's pooled
connections go away cleanly (nginx closes idle ones after 4 s, before gunicorn would). Then
the listeners stop completing new handshakes (serving.synfilter) while the handshakes
already under way complete and are accepted. Only then does gunicorn stop as usual:
in-flight requests finish, and each gthread worker accepts what the kernel still queues and
closes its listeners (``_stop_listening``). Closing a listener that still completes
handshakes would reset connections on which the proxy may already have sent a request.

Behind nginx the delay must exceed the upstream keepalive_timeout (4 s) and each server's
fail_timeout (3 s) of deploy/nginx; 0 stops at once. Proved by
tests/e2e/test_restarts.py::test_rolling_restart_behind_nginx_fails_no_request (5 s drain)
and tests/e2e/test_gunicorn.py::test_sigterm_drains_in_flight_requests (no delay).
"""

from __future__ import annotations

import mmap
import select
import signal
import time

from serving.synfilter import drop_syns

# Handshakes answered before the filter complete within a round trip (well under this).
HANDSHAKE_SETTLE = 0.2


def install(server, delay: float) -> None:
    """In the arbiter (when_ready): the shared flag, and SIGTERM that drains before it stops."""
    server.wdapi_draining = mmap.mmap(-1, 1)  # shared with every worker forked from now on
    stop = server.handle_term

    def handle_term():
        if delay > 0 and not server.wdapi_draining[0]:
            server.wdapi_draining[0] = 1
            server.log.info("SIGTERM: draining for %.1f s before stopping", delay)
            time.sleep(delay)
            if any(drop_syns(listener) for listener in server.LISTENERS):
                time.sleep(HANDSHAKE_SETTLE)
        stop()

    server.handle_term = handle_term


def share(server, worker) -> None:
    """In a worker just forked (post_fork): the arbiter's flag."""
    worker.wdapi_draining = server.wdapi_draining


def close_after_response(worker) -> None:
    """Before each request (pre_request): while draining, no connection is kept alive."""
    if worker.wdapi_draining[0] and getattr(worker, "max_keepalived", 0) > 0:
        # gthread closes the connection after a response once it keeps this many alive.
        # (Not keepalive = 0: that would close idle connections at once, under the proxy.)
        worker.max_keepalived = 0


def init_worker(worker) -> None:
    """In a worker (post_worker_init): requests see the flag; SIGTERM stops the listeners."""
    app = worker.wsgi

    def wsgi(environ, start_response):
        if worker.wdapi_draining[0]:
            environ["wdapi.draining"] = True  # /readyz answers 503
        return app(environ, start_response)

    worker.wsgi = wsgi
    if hasattr(worker, "method_queue"):  # gthread
        exit_handler = worker.handle_exit

        def handle_exit(sig, frame):
            exit_handler(sig, frame)
            worker.method_queue.defer(_stop_listening, worker)

        signal.signal(signal.SIGTERM, handle_exit)
        signal.siginterrupt(signal.SIGTERM, False)


def _stop_listening(worker) -> None:
    """On the worker's loop thread: serve what the kernel has queued, then close the listeners."""
    worker.set_accept_enabled(False)
    for listener in worker.sockets:
        for _ in range(worker.cfg.backlog):  # bounded: a flood of connects must not hold it here
            if not select.select([listener], [], [], 0)[0]:
                break
            worker.accept(listener)  # non-blocking: another worker may have taken it
        listener.close()
