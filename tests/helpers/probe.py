"""A liveness prober in a process of its own, as a kubelet would be: its clock does not wait
for the GIL of a test process that also runs load threads and fault proxies.

    python -m tests.helpers.probe PORT SECONDS  ->  JSON [[status or null, seconds], ...]
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def probe(port: int, seconds: float, path: str = "/healthz", interval: float = 0.05) -> list[tuple]:
    """GET ``path`` on a fresh connection every ``interval`` for ``seconds``, from a child process."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.probe", str(port), str(seconds), path, str(interval)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return [tuple(row) for row in json.loads(done.stdout)]


def _main(port: int, seconds: float, path: str, interval: float) -> None:
    results = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            status: int | None = response.status
        except (OSError, http.client.HTTPException):
            status = None
        finally:
            conn.close()
        results.append((status, time.monotonic() - started))
        time.sleep(interval)
    print(json.dumps(results))


if __name__ == "__main__":
    _main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
