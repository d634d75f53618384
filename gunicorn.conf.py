"""gunicorn settings, from the app's settings declaration (``settings.declaration``).

``make serve`` runs ``gunicorn -c gunicorn.conf.py run:app``. README.md ("gunicorn")
maps every setting to the tutorial's list of gunicorn options.
"""

import ctypes
import json
import mmap
import multiprocessing
import os
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

from gunicorn import util

from settings import load, or_refuse

# The app's settings, parsed as the app parses them: a bad value stops gunicorn here.
_settings = or_refuse(load)

proc_name = "wdapi"
bind = list(_settings["BIND"])
backlog = _settings["GUNICORN_BACKLOG"]
# One gthread worker per core, 4 threads each: measured best on 2 cores (bench/README.md,
# "Which worker class and counts"); gunicorn's 2 * cores + 1 only adds memory and an uneven split.
workers = _settings["WEB_CONCURRENCY"] or multiprocessing.cpu_count()
worker_class = _settings["GUNICORN_WORKER_CLASS"]
if worker_class == "gthread":
    # gthread, with /healthz on a thread of its own (settings/workers.py).
    worker_class = "settings.workers.ThreadWorker"
threads = _settings["GUNICORN_THREADS"]
if not _settings["DB_CONNECTION_SLOTS"] and threads > 1:
    # One thread per worker never waits for the database: requests that need none (Redis
    # keys, queues, /readyz) answer during a partition. /healthz has a thread of its own.
    os.environ["DB_CONNECTION_SLOTS"] = str(threads - 1)
# Recycle workers now and then (0 = never); the jitter keeps them from restarting together.
max_requests = _settings["GUNICORN_MAX_REQUESTS"]
max_requests_jitter = _settings["GUNICORN_MAX_REQUESTS_JITTER"]
timeout = _settings["GUNICORN_TIMEOUT"]
# SIGTERM and SIGHUP give in-flight requests this long to finish before a worker is killed.
graceful_timeout = _settings["GUNICORN_GRACEFUL_TIMEOUT"]
keepalive = _settings["GUNICORN_KEEPALIVE"]
# SIGTERM first drains for this long (see when_ready); behind nginx it must exceed the
# upstream keepalive_timeout (4 s) and each server's fail_timeout (3 s) of deploy/nginx.
# 0: stop at once.
drain_delay = _settings["GUNICORN_DRAIN_DELAY"]
limit_request_line = _settings["GUNICORN_LIMIT_REQUEST_LINE"]
limit_request_fields = _settings["GUNICORN_LIMIT_REQUEST_FIELDS"]
limit_request_field_size = _settings["GUNICORN_LIMIT_REQUEST_FIELD_SIZE"]
pidfile = _settings["GUNICORN_PIDFILE"]
# Proxies are the app's business (TRUSTED_PROXIES, werkzeug's ProxyFix): gunicorn honours no
# forwarded or scheme header from any peer, so its per-request trusted-peer check (an
# ipaddress parse of the peer) reduces to the constant "*".
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""  # none
forwarded_allow_ips = "*"
# gunicornc's control socket: a path, "off", or gunicorn's default under $HOME.
_control = _settings["GUNICORN_CONTROL_SOCKET"]
if _control and _control.lower() == "off":
    control_socket_disable = True
elif _control:
    control_socket = _control

# No preloading: the app (and its lazily opened database, Redis and AMQP pools)
# is built in each worker after the fork, so no socket is ever shared between
# processes, and SIGHUP reloads new code. The cost is a little memory per worker.
preload_app = False

# Logging: the app's format and handlers for gunicorn's error and access logs.
# The access line's request id is the response's X-Request-ID (settings.logs.RequestIdFilter).
loglevel = _settings["LOG_LEVEL"].lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
logger_class = "settings.logs.GunicornLogger"  # builds only the atoms this format uses
_handlers = {"stderr": {"()": "settings.logs.make_handler", "log_format": _settings["LOG_FORMAT"]}}
if _settings["LOG_FILE"]:
    _handlers["file"] = {
        "()": "settings.logs.make_handler",
        "log_format": _settings["LOG_FORMAT"],
        "filename": _settings["LOG_FILE"],
        "max_bytes": _settings["LOG_FILE_MAX_BYTES"],
        "backups": _settings["LOG_FILE_BACKUPS"],
    }
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {},
    "handlers": _handlers,
    "root": {"level": _settings["LOG_LEVEL"], "handlers": list(_handlers)},
    "loggers": {
        "gunicorn.error": {"level": _settings["LOG_LEVEL"], "handlers": list(_handlers), "propagate": False},
        "gunicorn.access": {
            "level": "INFO" if _settings["GUNICORN_ACCESSLOG"] else "CRITICAL",
            "handlers": list(_handlers),
            "propagate": False,
        },
    },
}


# Rolling restarts. SIGTERM to the arbiter first drains: every worker answers /readyz
# with 503 and closes each connection after its response, so the proxy's pooled
# connections go away cleanly (nginx closes idle ones after 4 s, before gunicorn would).
# Then the listeners stop completing new handshakes (a socket filter drops SYNs; nginx's
# connect fails and it sends the request to another instance: it was never sent here)
# while the handshakes already under way complete and are accepted. Only then does gunicorn
# stop as usual: in-flight requests finish, and each worker accepts what the kernel still
# queues and closes its listeners. Closing a listener that still completes handshakes would
# reset connections on which the proxy may already have sent a request (a 502 for a POST).


def when_ready(server):
    server.wdapi_draining = mmap.mmap(-1, 1)  # shared with every worker forked from now on
    stop = server.handle_term

    def handle_term():
        if drain_delay > 0 and not server.wdapi_draining[0]:
            server.wdapi_draining[0] = 1
            server.log.info("SIGTERM: draining for %.1f s before stopping", drain_delay)
            time.sleep(drain_delay)
            if any(_drop_syns(listener) for listener in server.LISTENERS):
                time.sleep(HANDSHAKE_SETTLE)
        stop()

    server.handle_term = handle_term


# Handshakes answered before the filter complete within a round trip (well under this).
HANDSHAKE_SETTLE = 0.2
# Classic BPF on a TCP socket sees the TCP header at offset 0; byte 13 holds the flags.
# A SYN without ACK (a new connection) is dropped, every other segment passes.
_SYN_FILTER = (
    (0x30, 0, 0, 13),  # ldb [13]
    (0x54, 0, 0, 0x12),  # and #(SYN|ACK)
    (0x15, 0, 1, 0x02),  # jeq #SYN, drop, pass
    (0x06, 0, 0, 0),  # drop: ret #0
    (0x06, 0, 0, 0xFFFFFFFF),  # pass: ret #-1
)


SO_ATTACH_FILTER = 26  # Linux; the socket module does not name it


def _drop_syns(listener) -> bool:
    """Attach the SYN filter to a TCP listener (Linux); False where that cannot be done."""
    sock = getattr(listener, "sock", listener)
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not sys.platform.startswith("linux"):
        return False
    code = b"".join(struct.pack("HBBI", *insn) for insn in _SYN_FILTER)
    program = ctypes.create_string_buffer(code)
    fprog = struct.pack("HP", len(_SYN_FILTER), ctypes.addressof(program))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


def post_fork(server, worker):
    worker.wdapi_draining = server.wdapi_draining


def pre_request(worker, req):
    if worker.wdapi_draining[0] and getattr(worker, "max_keepalived", 0) > 0:
        # gthread closes the connection after a response once it keeps this many alive.
        # (Not keepalive = 0: that would close idle connections at once, under the proxy.)
        worker.max_keepalived = 0


def write_problem(sock, status_int, reason, mesg):
    """gunicorn's own rejections (414 request line, 431 headers, 400 bad header...) as
    problem+json like every other error; gunicorn would write text/html. There is no
    request path or request id yet: the request never reached the app."""
    problem = {"type": "about:blank", "title": reason, "status": status_int, "detail": mesg or reason}
    body = json.dumps(problem, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def post_worker_init(worker):
    # Every worker class writes its rejections with this one function (workers/base.py).
    util.write_error = write_problem
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


# Metrics (extensions.metrics): every worker writes its values to files in one directory,
# and /metrics adds them up. Set before any worker imports prometheus_client.
_metrics_dir = _settings["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server):
    path = _metrics_dir or tempfile.mkdtemp(prefix="wdapi-metrics-")
    os.makedirs(path, exist_ok=True)
    for stale in Path(path).glob("*.db"):
        # Fresh at start; a live relay's files (name ends in its pid) are kept.
        pid = stale.stem.rsplit("_", 1)[-1]
        if not (pid.isdigit() and _alive(int(pid))):
            stale.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    server.wdapi_metrics_tmp = None if _metrics_dir else path
    # Imported now, with the variable set: workers inherit multiprocess mode, and child_exit
    # does not pay the import while a replacement worker waits.
    from prometheus_client import multiprocess

    server.wdapi_mark_dead = multiprocess.mark_process_dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def child_exit(server, worker):
    server.wdapi_mark_dead(worker.pid)  # its live gauges leave the sums


def on_exit(server):
    if getattr(server, "wdapi_metrics_tmp", None):
        shutil.rmtree(server.wdapi_metrics_tmp, ignore_errors=True)
