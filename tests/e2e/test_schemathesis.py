"""schemathesis over each served document against a live gunicorn: every check, the
stateful phase, a fixed seed, bounded examples; with and without API keys on the server.

``make fuzz`` runs the same with ``FUZZ_EXAMPLES`` examples per operation.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers.live_server import API_KEY, BIN, OUTPUT, ROOT, SPECS

SEED = 42
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 50)

# What schemathesis is told beside the documents (each setting says why): statuses that depend
# on state or size limits, the error demos, and the cursor rule the hooks play by.
CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = "tests.e2e.schemathesis_hooks"

# Findings allowed by (check, operation): what Swagger 2.0 cannot express (the OpenAPI 3.1
# document says all of it); a finding not listed fails the test.
SWAGGER2_GAPS = {
    ("ST104", "DELETE /rabbitmq/queues/{name}"): "204 without Content-Type",
    ("ST104", "DELETE /redis/keys/{key}"): "204 without Content-Type",
    ("ST104", "DELETE /wdtests/{wdtest_id}"): "204 without Content-Type",
    ("ST104", "GET /wdtests"): "304 without Content-Type",
    ("ST104", "GET /wdtests/{wdtest_id}"): "304 without Content-Type",
    ("ST104", "Stateful tests"): "204/304 without Content-Type",
    ("ST202", "POST /rabbitmq/queues/{name}/messages"): "headers: propertyNames",
    ("ST202", "GET /exceptions/divide"): "b: 0 is a 400; 2.0 has no `not`",
    ("ST201", "POST /demo/echo"): "form fields are a required body in 2.0; the echo's is optional",
    # JSON has one number type: 2.0 is an integer to the server and to 3.1's JSON Schema, a
    # number with a fraction to 2.0's draft 4 (seen on a PATCH of a missing record: 412).
    ("ST201", "POST /wdtests"): "an integral float is an integer in JSON Schema since draft 6",
    ("ST201", "PUT /wdtests/{wdtest_id}"): "an integral float is an integer in JSON Schema since draft 6",
    ("ST201", "PATCH /wdtests/{wdtest_id}"): "an integral float is an integer in JSON Schema since draft 6",
}
KNOWN_FINDINGS: dict[str, dict] = {"swagger2": SWAGGER2_GAPS, "openapi3": {}}

RUNS = {
    # server, header sent
    "open-server": ("open_server", None),
    "keyed-server-with-key": ("keyed_server", API_KEY),
}


def run_schemathesis(server, kind: str, api_key: str | None, report_dir) -> dict:
    """The JSON run report of one ``st run`` (its output is kept beside it)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(BIN / "st"),
        f"--config-file={CONFIG}",
        "run",
        f"{server.base}{SPECS[kind]}",
        "--checks=all",
        "--phases=examples,coverage,fuzzing,stateful",
        f"--seed={SEED}",
        f"--max-examples={EXAMPLES}",
        "--workers=1",  # one worker: the same cases in the same order every run
        "--request-timeout=10",
        "--report=json",
        f"--report-json-path={report_dir / 'report.json'}",
    ]
    if api_key:
        command.append(f"--header=X-API-Key: {api_key}")
    env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=report_dir, env=env)
    (report_dir / "output.txt").write_text(result.stdout + result.stderr)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((report_dir / "report.json").read_text())


@pytest.mark.parametrize("kind", list(SPECS))
@pytest.mark.parametrize("run", list(RUNS))
def test_schemathesis_finds_nothing_the_spec_does_not_explain(request, run, kind):
    fixture, api_key = RUNS[run]
    server = request.getfixturevalue(fixture)
    if server.spec(kind) is None:
        pytest.fail(f"{SPECS[kind]} is not served")
    report = run_schemathesis(server, kind, api_key, OUTPUT / "schemathesis" / f"{kind}-{run}")

    assert not report["errors"], report["errors"]
    assert report["operations"]["tested"] == report["operations"]["total"] > 20
    assert report["phases"]["stateful"]["status"] != "skipped", report["phases"]
    found = {(f["code"], op) for f in report["failures"] for op in f["operations"]}
    cases = report["test_cases"]
    print(f"schemathesis {kind} {run}: {cases['generated']} cases, {len(found)} findings: {sorted(found)}")
    new = sorted(found - KNOWN_FINDINGS[kind].keys())
    assert not new, f"new findings (see {OUTPUT / 'schemathesis'}): {new}"
