"""gunicorn settings, from the app's settings declaration (``settings.declaration``).

``make serve`` runs ``gunicorn -c gunicorn.conf.py run:app``. README.md ("gunicorn")
maps every setting to the tutorial's list of gunicorn options.
"""

import multiprocessing
import signal

from settings import load, or_refuse

# The app's settings, parsed as the app parses them: a bad value stops gunicorn here.
_settings = or_refuse(load)

proc_name = "wdapi"
bind = list(_settings["BIND"])
backlog = _settings["GUNICORN_BACKLOG"]
workers = _settings["WEB_CONCURRENCY"] or multiprocessing.cpu_count() * 2 + 1
worker_class = _settings["GUNICORN_WORKER_CLASS"]
threads = _settings["GUNICORN_THREADS"]
# Recycle workers now and then (0 = never); the jitter keeps them from restarting together.
max_requests = _settings["GUNICORN_MAX_REQUESTS"]
max_requests_jitter = _settings["GUNICORN_MAX_REQUESTS_JITTER"]
timeout = _settings["GUNICORN_TIMEOUT"]
# SIGTERM and SIGHUP give in-flight requests this long to finish before a worker is killed.
graceful_timeout = _settings["GUNICORN_GRACEFUL_TIMEOUT"]
keepalive = _settings["GUNICORN_KEEPALIVE"]
limit_request_line = _settings["GUNICORN_LIMIT_REQUEST_LINE"]
limit_request_fields = _settings["GUNICORN_LIMIT_REQUEST_FIELDS"]
limit_request_field_size = _settings["GUNICORN_LIMIT_REQUEST_FIELD_SIZE"]
pidfile = _settings["GUNICORN_PIDFILE"]
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


def post_worker_init(worker):
    # A terminal's Ctrl-C reaches the workers as well as the arbiter, which then sends
    # each worker SIGQUIT: gthread's quit handler deadlocks if it runs twice (it was seen
    # holding a worker until graceful_timeout). The arbiter's SIGQUIT is enough.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
