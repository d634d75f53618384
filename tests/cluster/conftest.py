"""Fixtures of the cluster tier: a Galera cluster behind HAProxy, a Redis sentinel set and a
RabbitMQ cluster, each started once per session from the machine's packages, on loopback
ports in temporary folders, and stopped by process id at the end (also after a failure).

Each skips with the reason when a binary is missing, or fails under REQUIRE_SERVICES=1.
Figures measured by the tests are printed at the end and written to ``cluster-figures.json``
in pytest's base temp directory.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers.cluster.galera import GaleraCluster
from tests.helpers.cluster.rabbitmq import RabbitCluster
from tests.helpers.cluster.redis_sentinel import SentinelCluster

FIGURES: dict[str, float | str] = {}
FIGURES_FILE: list = []  # the JSON's path, once the session has a temp dir


@pytest.fixture(scope="session")
def figures(tmp_path_factory):
    """Record a figure: ``figures["name"] = value``; written out as the session goes."""
    path = tmp_path_factory.getbasetemp() / "cluster-figures.json"
    FIGURES_FILE.append(path)
    yield FIGURES
    path.write_text(json.dumps(FIGURES, indent=2, sort_keys=True))


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("cluster figures")
        for name, value in sorted(FIGURES.items()):
            text = f"{value:.2f} s" if isinstance(value, float) else str(value)
            terminalreporter.write_line(f"{name}: {text}")
        if FIGURES_FILE:
            terminalreporter.write_line(f"written to {FIGURES_FILE[0]}")


@pytest.fixture(scope="session")
def galera(tmp_path_factory, figures):
    cluster = GaleraCluster()
    try:
        cluster.start()
        figures.update({f"start galera+haproxy ({k})": v for k, v in cluster.timings.items()})
        yield cluster
    finally:
        cluster.stop()
        cluster.remove(keep_logs=tmp_path_factory.mktemp("galera-logs"))


@pytest.fixture(scope="session")
def redis_sentinels(tmp_path_factory, figures):
    cluster = SentinelCluster(tmp_path_factory.mktemp("redis"))
    try:
        cluster.start()
        figures["start redis master+replica+3 sentinels"] = cluster.timings["total"]
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def rabbit_cluster(tmp_path_factory, figures):
    cluster = RabbitCluster(tmp_path_factory.mktemp("rabbit"))
    try:
        cluster.start()
        figures.update({f"start rabbitmq x3 ({k})": v for k, v in cluster.timings.items()})
        yield cluster
    finally:
        cluster.stop()
