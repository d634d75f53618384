"""Serving: what gunicorn.conf.py wires in, one module per fault it answers.

``hooks`` (the server hooks) calls ``drain`` (SIGTERM drains before stopping), ``synfilter``
(no new handshakes while stopping), ``rejections`` (gunicorn's own 4xx as problem+json) and
``metrics_dir`` (prometheus_client's multiprocess directory); ``workers`` is the gthread
worker with /healthz on a thread of its own, ``logger`` gunicorn's logging. Each module's
docstring names its fault and the test that proves it.
"""
