"""gunicorn settings, from the app's settings declaration (``settings.declaration``), and the
server hooks (``serving.hooks``; the reasons are in the ``serving`` modules they call).

``make serve`` runs ``gunicorn -c gunicorn.conf.py run:app``. README.md ("gunicorn")
maps every setting to the tutorial's list of gunicorn options.
"""

import os

from gunicorn.config import ControlSocket

from serving.hooks import Hooks
from serving.logger import ACCESS_LOG_FORMAT, dict_config
from settings import load, or_refuse

# The app's settings, parsed as the app parses them: a bad value stops gunicorn here.
_settings = or_refuse(load)

proc_name = "wdapi"
bind = list(_settings["BIND"])
backlog = _settings["GUNICORN_BACKLOG"]
# One gthread worker per core, 4 threads each: measured best on 2 cores (bench/README.md,
# "Which worker class and counts"); gunicorn's 2 * cores + 1 only adds memory and an uneven split.
# os's count, not multiprocessing's: that package would sit in every worker (0.2 MiB).
workers = _settings["WEB_CONCURRENCY"] or os.cpu_count() or 1
# gthread, with /healthz on a thread of its own (serving/workers.py).
_gthread = _settings["GUNICORN_WORKER_CLASS"] == "gthread"
worker_class = "serving.workers.ThreadWorker" if _gthread else _settings["GUNICORN_WORKER_CLASS"]
threads = _settings["GUNICORN_THREADS"]  # DB_CONNECTION_SLOTS follows it (settings.derived)
# Recycle workers now and then (0 = never); the jitter keeps them from restarting together.
max_requests = _settings["GUNICORN_MAX_REQUESTS"]
max_requests_jitter = _settings["GUNICORN_MAX_REQUESTS_JITTER"]
timeout = _settings["GUNICORN_TIMEOUT"]
# SIGTERM and SIGHUP give in-flight requests this long to finish before a worker is killed
# (after the drain, GUNICORN_DRAIN_DELAY: serving/drain.py).
graceful_timeout = _settings["GUNICORN_GRACEFUL_TIMEOUT"]
keepalive = _settings["GUNICORN_KEEPALIVE"]
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
# gunicornc's control socket: a path, "off", or (unset) gunicorn's default under $HOME.
_control = _settings["GUNICORN_CONTROL_SOCKET"] or ""
control_socket_disable = _control.lower() == "off"
control_socket = _control if _control and not control_socket_disable else ControlSocket.default

# No preloading: the app (and its lazily opened database, Redis and AMQP pools)
# is built in each worker after the fork, so no socket is ever shared between
# processes, and SIGHUP reloads new code. The cost is a little memory per worker.
preload_app = False

# Logging: the app's format and handlers for gunicorn's error and access logs.
loglevel = _settings["LOG_LEVEL"].lower()
access_log_format = ACCESS_LOG_FORMAT
logger_class = "serving.logger.GunicornLogger"  # builds only the atoms this format uses
logconfig_dict = dict_config(_settings)

# Server hooks: the drain on SIGTERM, problem+json rejections, the metrics directory.
_hooks = Hooks(
    drain_delay=_settings["GUNICORN_DRAIN_DELAY"], metrics_dir=_settings["PROMETHEUS_MULTIPROC_DIR"]
)
on_starting = _hooks.on_starting
when_ready = _hooks.when_ready
post_fork = _hooks.post_fork
post_worker_init = _hooks.post_worker_init
pre_request = _hooks.pre_request
child_exit = _hooks.child_exit
on_exit = _hooks.on_exit
