"""gunicorn settings, each from an environment variable with a sane default."""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", 4))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 2))
# Pools (database, Redis, AMQP) open lazily in each worker, so the app is
# imported once per worker rather than preloaded and forked.
preload_app = False
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
