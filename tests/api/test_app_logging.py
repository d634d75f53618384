"""The app's logging: its handlers are replaced on each build, and JSON lines carry the request id."""

import json
import logging

import pytest

from factory import create_app


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_configure_logging_replaces_its_handlers(log_format):
    before = [h for h in logging.getLogger().handlers if getattr(h, "_wdapi", False)]
    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://", "LOG_FORMAT": log_format})
    create_app(app.config.copy())
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_wdapi", False)]
    assert len(ours) == 1 and ours[0] not in before


def test_app_json_log_lines_carry_the_request_id(tmp_path, capsys):
    log_file = tmp_path / "wdapi.log"
    config = {"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://", "LOG_FORMAT": "json"}
    app = create_app({**config, "LOG_FILE": str(log_file)})
    app.test_client().get("/api/v1/exceptions/crash", headers={"X-Request-ID": "json-rid-1"})
    stderr_lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    file_lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    for lines in (stderr_lines, file_lines):
        crash = next(entry for entry in lines if entry["message"].startswith("unhandled exception"))
        assert crash["request_id"] == "json-rid-1" and crash["level"] == "ERROR"
        assert "demo crash" in crash["exc_info"]
    create_app(config)  # closes the file handler
