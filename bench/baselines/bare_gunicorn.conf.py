"""gunicorn settings of the bare Flask baseline: explicit, so gunicorn never falls back to the
project's ./gunicorn.conf.py (its default config file) with threads and an access log."""

import os

bind = "127.0.0.1:8001"  # bench/run.py passes -b
workers = 2
# bench/run.py also runs it on gthread (4 threads, as the project ships): what that worker
# class costs a bare app, beside what it costs the project.
threads = int(os.environ.get("BENCH_BARE_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"  # gunicorn's own choice for threads > 1
accesslog = None
loglevel = "info"  # startup lines only: bench/harness.py checks "Using worker: ..."
