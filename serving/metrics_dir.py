"""The directory of prometheus_client's multiprocess mode, kept by gunicorn's arbiter.

Fault: each worker counts in its own memory, so ``/metrics`` would show whichever worker
answered the scrape. In multiprocess mode every worker (and the outbox relay, given the same
directory) writes its values to files in one directory and a scrape adds them up
(extensions.metrics). The arbiter makes the directory fresh at start (stale files would
count), marks a dead worker's files (its live gauges leave the sums) and removes a
temporary directory at exit. Proved by tests/e2e/test_metrics.py::test_counts_from_both_workers_add_up.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare(configured: str | None) -> tuple[str, Callable[[int], None]]:
    """Before any worker is forked: the directory (``configured``, else a new temporary
    one), emptied of stale files, and prometheus_client's function that marks a dead pid."""
    path = configured or tempfile.mkdtemp(prefix="wdapi-metrics-")
    os.makedirs(path, exist_ok=True)
    for stale in Path(path).glob("*.db"):
        # Fresh at start; a live relay's files (name ends in its pid) are kept.
        pid = stale.stem.rsplit("_", 1)[-1]
        if not (pid.isdigit() and _alive(int(pid))):
            stale.unlink(missing_ok=True)
    # prometheus_client's interface is this variable, read in every process that imports
    # it; the workers inherit it from the arbiter (the one environment write of the project).
    os.environ[VARIABLE] = path
    # Imported now, with the variable set: workers inherit multiprocess mode, and child_exit
    # does not pay the import while a replacement worker waits.
    from prometheus_client import multiprocess

    return path, multiprocess.mark_process_dead


def remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
