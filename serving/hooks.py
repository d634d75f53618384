"""gunicorn's server hooks, which gunicorn.conf.py wires: each calls the serving module that
answers one fault (drain, rejections, metrics_dir), with the settings those need.

One trick lives here, being two lines: a terminal's Ctrl-C reaches the workers as well as
the arbiter, which then sends each worker SIGQUIT, and gthread's quit handler deadlocks if
it runs twice (seen holding a worker until graceful_timeout); the workers ignore SIGINT, the
arbiter's SIGQUIT is enough. Proved by
tests/e2e/test_gunicorn.py::test_ctrl_c_to_the_process_group_stops_every_process_promptly.

State that must outlive a SIGHUP (which re-reads gunicorn.conf.py and so builds new Hooks)
is kept on gunicorn's server and worker objects, never on Hooks.
"""

from __future__ import annotations

import signal

from serving import drain, metrics_dir, rejections


class Hooks:
    """The hooks, bound to the settings they read (gunicorn calls them as plain callables)."""

    def __init__(self, *, drain_delay: float, metrics_dir: str | None):
        self.drain_delay = drain_delay
        self.metrics_dir = metrics_dir

    def on_starting(self, server) -> None:
        # Before any worker imports prometheus_client.
        path, server.wdapi_mark_dead = metrics_dir.prepare(self.metrics_dir)
        server.wdapi_metrics_tmp = None if self.metrics_dir else path

    def when_ready(self, server) -> None:
        drain.install(server, self.drain_delay)

    def post_fork(self, server, worker) -> None:
        drain.share(server, worker)

    def post_worker_init(self, worker) -> None:
        rejections.install()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # see the module docstring
        drain.init_worker(worker)

    def pre_request(self, worker, req) -> None:
        drain.close_after_response(worker)

    def child_exit(self, server, worker) -> None:
        server.wdapi_mark_dead(worker.pid)  # its live gauges leave the sums

    def on_exit(self, server) -> None:
        if getattr(server, "wdapi_metrics_tmp", None):
            metrics_dir.remove(server.wdapi_metrics_tmp)
