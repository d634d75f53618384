"""gunicorn settings, each from an environment variable with a sane default.

``make serve`` runs ``gunicorn -c gunicorn.conf.py run:app``. README.md ("gunicorn")
maps every setting to the tutorial's list of gunicorn options.
"""

import importlib
import mmap
import multiprocessing
import os
import select
import signal
import sys
import time


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


# The master loads this file before the app; make the project's modules importable.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
logsetup = importlib.import_module("logsetup")

proc_name = "wdapi"
bind = os.environ.get("BIND", "127.0.0.1:8000").split(",")
backlog = _env_int("GUNICORN_BACKLOG", 2048)
workers = _env_int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = _env_int("GUNICORN_THREADS", 4)
# Recycle workers now and then (0 = never); the jitter keeps them from restarting together.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 0)
timeout = _env_int("GUNICORN_TIMEOUT", 30)
# SIGTERM and SIGHUP give in-flight requests this long to finish before a worker is killed.
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
# SIGTERM first drains for this long (see when_ready); behind nginx it must exceed the
# upstream keepalive_timeout of deploy/nginx (4 s). 0: stop at once.
drain_delay = _env_float("GUNICORN_DRAIN_DELAY", 0.0)
limit_request_line = _env_int("GUNICORN_LIMIT_REQUEST_LINE", 4094)
limit_request_fields = _env_int("GUNICORN_LIMIT_REQUEST_FIELDS", 100)
limit_request_field_size = _env_int("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 8190)
pidfile = os.environ.get("GUNICORN_PIDFILE") or None
# gunicornc's control socket: a path, "off", or gunicorn's default under $HOME.
_control = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if _control.lower() == "off":
    control_socket_disable = True
elif _control:
    control_socket = _control

# No preloading: the app (and its lazily opened database, Redis and AMQP pools)
# is built in each worker after the fork, so no socket is ever shared between
# processes, and SIGHUP reloads new code. The cost is a little memory per worker.
preload_app = False

# Logging: the app's format and handlers for gunicorn's error and access logs.
# The access line's request id is the response's X-Request-ID (logsetup.RequestIdFilter).
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
_log_format = os.environ.get("LOG_FORMAT", "text").strip().lower() or "text"
_handlers = {"stderr": {"()": "logsetup.make_handler", "log_format": _log_format}}
if os.environ.get("LOG_FILE", "").strip():
    _handlers["file"] = {
        "()": "logsetup.make_handler",
        "log_format": _log_format,
        "filename": os.environ["LOG_FILE"].strip(),
        "max_bytes": _env_int("LOG_FILE_MAX_BYTES", 300 * 1024 * 1024),
        "backups": _env_int("LOG_FILE_BACKUPS", 10),
    }
_access_on = os.environ.get("GUNICORN_ACCESSLOG", "on").strip().lower() not in ("off", "0", "false", "no")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {},
    "handlers": _handlers,
    "root": {"level": loglevel.upper(), "handlers": list(_handlers)},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": list(_handlers), "propagate": False},
        "gunicorn.access": {
            "level": "INFO" if _access_on else "CRITICAL",
            "handlers": list(_handlers),
            "propagate": False,
        },
    },
}


# Rolling restarts. SIGTERM to the arbiter first drains: every worker answers /readyz
# with 503 and closes each connection after its response, so the proxy's pooled
# connections go away cleanly (nginx closes idle ones after 4 s, before gunicorn would);
# after drain_delay gunicorn stops as usual: in-flight requests finish. A worker told to
# stop closes its listening sockets at once (accepting what the kernel already queued),
# so new connections are refused - which nginx retries on another instance, even a POST
# - rather than queued and reset once the worker is gone.


def when_ready(server):
    server.wdapi_draining = mmap.mmap(-1, 1)  # shared with every worker forked from now on
    stop = server.handle_term

    def handle_term():
        if drain_delay > 0 and not server.wdapi_draining[0]:
            server.wdapi_draining[0] = 1
            server.log.info("SIGTERM: draining for %.1f s before stopping", drain_delay)
            time.sleep(drain_delay)
        stop()

    server.handle_term = handle_term


def post_fork(server, worker):
    worker.wdapi_draining = server.wdapi_draining


def pre_request(worker, req):
    if worker.wdapi_draining[0] and getattr(worker, "max_keepalived", 0) > 0:
        # gthread closes the connection after a response once it keeps this many alive.
        # (Not keepalive = 0: that would close idle connections at once, under the proxy.)
        worker.max_keepalived = 0


def post_worker_init(worker):
    # A terminal's Ctrl-C reaches the workers as well as the arbiter, which then sends
    # each worker SIGQUIT: gthread's quit handler deadlocks if it runs twice (it was seen
    # holding a worker until graceful_timeout). The arbiter's SIGQUIT is enough.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

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


def _stop_listening(worker):
    """On the worker's loop thread: serve what the kernel has queued, then close the listeners."""
    worker.set_accept_enabled(False)
    for listener in worker.sockets:
        for _ in range(worker.cfg.backlog):  # bounded: a flood of connects must not hold it here
            if not select.select([listener], [], [], 0)[0]:
                break
            worker.accept(listener)  # non-blocking: another worker may have taken it
        listener.close()
