"""Prometheus metrics (prometheus_client): the metric objects and the scrape.

Under gunicorn, the arbiter (``serving.metrics_dir``) sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker
imports this module: each process writes its values to files there and a scrape adds
them up (multiprocess mode). The outbox relay writes there too when it runs with the same
directory. Without it (``flask run``, tests) the process's own registry is served.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("wdapi_requests", "Requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "wdapi_request_duration_seconds",
    "Seconds from the first request hook to the response",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_POOL_IN_USE = Gauge(
    "wdapi_db_pool_connections_in_use",
    "Database connections checked out of this process's pool (at its last response)",
    multiprocess_mode="livesum",
)
DB_BREAKER = Gauge(
    "wdapi_db_breaker_state",
    "Database circuit breaker, worst over live workers: 0 closed, 1 half-open, 2 open",
    multiprocess_mode="livemax",
)
CACHE = Counter("wdapi_cache_lookups", "Record cache lookups", ["result"])  # hit / miss
# Write transactions run again: deadlock (certification), version, connection, asked.
DB_WRITE_RETRIES = Counter("wdapi_db_write_retries", "Write transactions run again, by reason", ["reason"])
RELAY_PUBLISHED = Counter("wdapi_outbox_relay_published", "Events the relay published")
RELAY_FAILED = Counter("wdapi_outbox_relay_failures", "Relay attempts that failed (broker or database)")

CONTENT_TYPE = CONTENT_TYPE_LATEST


class OutboxCollector:
    """Pending events and the age of the oldest, by one query at scrape time."""

    def __init__(self, pending):
        self.pending = pending  # () -> (count, oldest created_at or None)

    def collect(self):
        count, oldest = self.pending()
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("wdapi_outbox_pending", "Events waiting to be relayed", value=count)
        yield GaugeMetricFamily(
            "wdapi_outbox_oldest_pending_age_seconds", "Age of the oldest waiting event", value=age
        )


def exposition(pending=None) -> bytes:
    """The text exposition of every process's metrics, plus the outbox gauges if ``pending``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    output = generate_latest(base)
    if pending is not None:
        extra = CollectorRegistry()
        extra.register(OutboxCollector(pending))
        output += generate_latest(extra)
    return output
