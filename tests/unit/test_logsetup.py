"""Log format, request ids and multi-process rotation (no app where none is needed)."""

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

from settings.logs import RequestIdFilter, make_handler

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO rotation-test-(\d) \[-\] logs\.py:\d+ "
    r"writer=\1 seq=(\d{5}) x{80} end"
)


def _record(msg="hello %s", args=("world",), name="wdapi.test"):
    return logging.LogRecord(name, logging.INFO, "/src/mod.py", 12, msg, args, None)


def test_text_format_has_every_field():
    handler = make_handler("text")
    record = _record()
    handler.filter(record)
    line = handler.format(record)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO wdapi\.test \[-\] mod\.py:12 hello world", line
    )


def test_json_format_is_one_object_per_line():
    handler = make_handler("json")
    record = _record()
    handler.filter(record)
    line = handler.format(record)
    assert "\n" not in line
    body = json.loads(line)
    assert body["level"] == "INFO" and body["logger"] == "wdapi.test" and body["message"] == "hello world"
    assert body["request_id"] == "-" and body["file"] == "mod.py" and body["line"] == 12 and body["time"]


def test_json_format_keeps_tracebacks_on_one_line():
    handler = make_handler("json")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "/m.py", 1, "failed", (), sys.exc_info())
    handler.filter(record)
    line = handler.format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exc_info"]


def test_gunicorn_access_records_take_the_response_request_id():
    record = _record("%(h)s %({x-request-id}o)s", ({"h": "127.0.0.1", "{x-request-id}o": "rid-7"},))
    RequestIdFilter().filter(record)
    assert record.request_id == "rid-7"


def test_rotation_across_processes_loses_and_corrupts_nothing(tmp_path):
    log_file = tmp_path / "app.log"
    writers, count = 4, 1500
    code = (
        "import sys; from tests.helpers.logs import write_log_lines; "
        "write_log_lines(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), 64 * 1024, 200)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(log_file), str(w), str(count)], cwd=ROOT)
        for w in range(writers)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    files = sorted(tmp_path.glob("app.log*"))
    files = [f for f in files if not f.name.endswith(".lock")]
    assert len(files) > 3, "the test must actually rotate"
    seen = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = LINE.fullmatch(line)
            assert match, f"corrupt line in {path.name}: {line[:120]!r}"
            key = (int(match.group(1)), int(match.group(2)))
            assert key not in seen, f"duplicated line {key}"
            seen.add(key)
    assert seen == {(w, s) for w in range(writers) for s in range(count)}


def _gunicorn_config(access_log_format: str):
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("access_log_format", access_log_format)
    return cfg


def test_lean_access_atoms_give_gunicorn_s_own_line():
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.glogging import Logger, SafeAtoms

    from serving.logger import ACCESS_LOG_FORMAT, GunicornLogger
    from settings.logs import ACCESS_REQUEST_ID

    fmt = ACCESS_LOG_FORMAT  # the shipped format (gunicorn.conf.py)
    cfg = _gunicorn_config(fmt)
    environ = {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "GET",
        "RAW_URI": '/api/v1/wdtests?name="x"',
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": 'agent "quoted"',
        "PATH_INFO": "/api/v1/wdtests",
    }
    resp = SimpleNamespace(
        status="200 OK", sent=123, headers=[("Content-Type", "application/json"), ("X-Request-ID", "r-1")]
    )
    req = SimpleNamespace(headers=[("USER-AGENT", 'agent "quoted"')])
    took = timedelta(seconds=1, microseconds=2345)
    lean, full = GunicornLogger(cfg), Logger(cfg)
    assert lean.lean_atoms
    lean_atoms = SafeAtoms(lean.atoms(resp, req, environ, took))
    full_atoms = SafeAtoms(full.atoms(resp, req, environ, took))
    assert fmt % lean_atoms == fmt % full_atoms
    assert lean_atoms[ACCESS_REQUEST_ID] == full_atoms[ACCESS_REQUEST_ID] == "r-1"

    other = "%(h)s %({user-agent}i)s %(p)s"
    cfg = _gunicorn_config(other)
    lean, full = GunicornLogger(cfg), Logger(cfg)
    assert not lean.lean_atoms  # another format: gunicorn's full atoms
    assert other % SafeAtoms(lean.atoms(resp, req, environ, took)) == other % SafeAtoms(
        full.atoms(resp, req, environ, took)
    )


def test_access_line_is_gunicorns_own_record():
    """``GunicornLogger.access`` builds the record itself (no stack search for the caller):
    the same message, args (the request id filter reads them) and level as gunicorn's."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.glogging import Logger

    from serving.logger import ACCESS_LOG_FORMAT, GunicornLogger
    from settings.logs import RequestIdFilter

    cfg = _gunicorn_config(ACCESS_LOG_FORMAT)
    cfg.set("accesslog", "-")
    environ = {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "GET",
        "RAW_URI": '/x?q="y"',
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": 'agent "quoted"',
    }
    resp = SimpleNamespace(status="404 NOT FOUND", sent=9, headers=[("X-Request-ID", 'r"2')])
    took = timedelta(microseconds=2500)

    class Keep(logging.Handler):
        def __init__(self):
            super().__init__()
            self.records: list[logging.LogRecord] = []

        def emit(self, record):
            self.records.append(record)

    lines = {}
    for kind in (GunicornLogger, Logger):
        logger = kind(cfg)
        keep = Keep()
        keep.addFilter(RequestIdFilter())
        logger.access_log.addHandler(keep)
        try:
            logger.access(resp, SimpleNamespace(headers=[]), environ, took)
        finally:
            logger.access_log.removeHandler(keep)
        [record] = keep.records
        lines[kind] = (record.levelno, record.getMessage(), record.request_id)
    line = r'10.0.0.7 "GET /x?q=\"y\" HTTP/1.1" 404 9 2ms "-" "agent \"quoted\""'
    assert lines[GunicornLogger] == lines[Logger] == (logging.INFO, line, 'r\\"2')


def test_time_is_formatted_as_loggings_own():
    """The formatters format each second once; the text is logging.Formatter's, across seconds."""
    for log_format in ("text", "json"):
        ours, theirs = make_handler(log_format).formatter, logging.Formatter()
        assert ours is not None
        for created in (1.5, 1.999, 2.0, 2.001, 86_400.25, 1.75):
            record = _record()
            record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
            assert ours.formatTime(record) == theirs.formatTime(record)
            assert ours.formatTime(record, "%H") == theirs.formatTime(record, "%H")
