"""The exported documents are production's: ``python -m swagger_export`` (production by
default, placeholder key and secret) writes exactly what a production gunicorn serves."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers.gunicorn import ROOT, Instance, production_env
from tests.helpers.live import request
from tests.helpers.redis_support import redis_test_prefix
from tests.helpers.require import require_port

DOCUMENTS = {"swagger.json": "/api/v1/swagger.json", "openapi.json": "/api/v1/openapi.json"}


def test_the_export_is_what_production_serves(tmp_path):
    require_port("127.0.0.1", 6379, "Redis")  # production's rate limits count there
    env = production_env(f"sqlite:///{tmp_path / 'prod.sqlite3'}", REDIS_KEY_PREFIX=redis_test_prefix())
    env.pop("RATELIMIT_ENABLED")  # production's own default: limited, so 429s are documented
    subprocess.run(
        [sys.executable, "-m", "swagger_export", "-o", str(tmp_path / "swagger.json")]
        + ["--openapi", str(tmp_path / "openapi.json")],
        cwd=ROOT,
        env={k: v for k, v in env.items() if k not in ("APP_ENV", "API_KEYS", "SECRET_KEY")},
        check=True,
        timeout=120,
    )
    with Instance(tmp_path / "prod", env) as server:
        for name, url in DOCUMENTS.items():
            response = request(server.port, "GET", url)  # no key: the documents are public
            assert response.status == 200, response.body
            served = response.json()
            assert json.loads((tmp_path / name).read_text()) == served, name
            ops = [op for item in served["paths"].values() for m, op in item.items() if m != "parameters"]
            assert served["security"] == [{"apikey": []}]
            assert ops and all(op["security"] == [{"apikey": []}] for op in ops)
            assert all({"401", "429"} <= set(op["responses"]) for op in ops)
