"""Logging for the app and for gunicorn: one format, the request id on every line.

Text lines read ``time level logger [request-id] file:line message``;
``LOG_FORMAT=json`` writes one JSON object per line with the same fields.
stderr always; ``LOG_FILE`` adds a size-rotated file whose handler locks
across processes, so gunicorn workers can share it without losing lines.
"""

from __future__ import annotations

import logging
import sys
import time

from flask import g, has_request_context
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(filename)s:%(lineno)d %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "request_id", "filename", "lineno", "message")
JSON_RENAMES = {
    "asctime": "time",
    "levelname": "level",
    "name": "logger",
    "filename": "file",
    "lineno": "line",
}
# gunicorn's access log passes its atoms as the record's args; this one is the response header.
ACCESS_REQUEST_ID = "{x-request-id}o"


class RequestIdFilter(logging.Filter):
    """Give every record a ``request_id``: the Flask request's, the access
    log's response header, or ``-`` outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = "-"
            if has_request_context():
                request_id = g.get("request_id", "-")
            elif isinstance(record.args, dict) and ACCESS_REQUEST_ID in record.args:
                request_id = record.args[ACCESS_REQUEST_ID]
            record.request_id = request_id
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (pytest swaps it per test)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


# logging.Formatter's own defaults, asctime's text.
TIME_FORMAT, MSEC_FORMAT = "%Y-%m-%d %H:%M:%S", "%s,%03d"


class _SecondsOnce:
    """``formatTime`` that formats each second once: ``strftime`` was a tenth of an access
    line's cost, on every line of a busy worker. The same text as ``logging.Formatter``'s."""

    _second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)  # type: ignore[misc]
        second, text = self._second
        if second != int(record.created):
            second = int(record.created)
            text = time.strftime(TIME_FORMAT, self.converter(second))  # type: ignore[attr-defined]
            self._second = (second, text)  # one tuple: threads see either second whole
        return MSEC_FORMAT % (text, record.msecs)


class TextFormatter(_SecondsOnce, logging.Formatter):
    pass


class JsonLineFormatter(_SecondsOnce, JsonFormatter):
    pass


def make_formatter(log_format: str = "text") -> logging.Formatter:
    # Neither format names a thread or a process: LogRecord need not look them up (the
    # logging HOWTO's "Optimization"; os.getpid and the thread's name on every record).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if log_format == "json":
        return JsonLineFormatter(
            list(JSON_FIELDS), rename_fields=JSON_RENAMES, json_ensure_ascii=False, timestamp=False
        )
    return TextFormatter(TEXT_FORMAT)


def make_handler(
    log_format: str = "text", filename: str | None = None, max_bytes: int = 0, backups: int = 0
) -> logging.Handler:
    """A handler with the app's format and request ids: stderr, or the rotating ``filename``.
    Also the ``()`` factory of gunicorn's ``logconfig_dict``."""
    handler: logging.Handler
    if filename:
        # Imported here: only a LOG_FILE needs it (portalocker with it, 1 MiB per worker).
        from concurrent_log_handler import ConcurrentRotatingFileHandler

        handler = ConcurrentRotatingFileHandler(
            filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
    else:
        handler = StderrHandler()
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(RequestIdFilter())
    handler._wdapi = True  # type: ignore[union-attr]  # ours: replaced, never stacked, when logging is set up again
    return handler


def handlers_from(config) -> list[logging.Handler]:
    """The handlers a config mapping asks for: stderr, plus ``LOG_FILE`` when set."""
    fmt = config.get("LOG_FORMAT", "text")
    handlers = [make_handler(fmt)]
    if config.get("LOG_FILE"):
        handlers.append(
            make_handler(fmt, config["LOG_FILE"], config["LOG_FILE_MAX_BYTES"], config["LOG_FILE_BACKUPS"])
        )
    return handlers


def configure_logging(app) -> None:
    """Install the app's handlers on the root logger, replacing ones set up before."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_wdapi", False):
            root.removeHandler(handler)
            handler.close()
    for handler in handlers_from(app.config):
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
