"""The app on the clusters: a migrated database through HAProxy, N gunicorn instances and
N outbox relays with the same settings, stopped at the end whatever happened."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.apps import migrate, recreate_mysql
from tests.helpers.gunicorn import Instance, production_env, start_relay, stop_process


def create_database(url: str) -> None:
    """An empty database at ``url`` (through HAProxy: created on every node by Galera), migrated."""
    migrate(recreate_mysql(url))


@contextlib.contextmanager
def app_stack(workdir: Path, settings: list[dict[str, str]], relays: int = 0) -> Iterator[list[Instance]]:
    """One production-like instance per entry of ``settings`` and ``relays`` relays with the
    first entry's settings; yields the instances."""
    instances: list[Instance] = []
    relay_procs = []
    try:
        for n, extra in enumerate(settings):
            env = production_env(extra["DATABASE_URL"], **extra)
            instances.append(Instance(workdir / f"app{n + 1}", env).start(timeout=60))
        relay_env = production_env(settings[0]["DATABASE_URL"], **settings[0])
        for n in range(relays):
            relay_procs.append(start_relay(relay_env, workdir / f"relay{n + 1}.log"))
        yield instances
    finally:
        for proc in relay_procs:
            stop_process(proc)
        for instance in instances:
            instance.stop()
