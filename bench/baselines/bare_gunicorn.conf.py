"""gunicorn settings of the bare Flask baseline: explicit, so gunicorn never falls back to the
project's ./gunicorn.conf.py (its default config file) with threads and an access log."""

bind = "127.0.0.1:8001"  # bench/run.py passes -b
workers = 2
worker_class = "sync"
threads = 1  # gunicorn turns "sync" into gthread when threads > 1
accesslog = None
loglevel = "info"  # startup lines only: bench/run.py checks "Using worker: sync"
