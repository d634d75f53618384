"""gunicorn's logging: the app's format and handlers, and a leaner access line.

Fault: gunicorn's own ``Logger.atoms`` builds a dict of every request header, response
header and environ variable for each access line, 5.7 % of a ``/healthz`` answer's CPU
(bench/README.md). ``GunicornLogger`` builds only the atoms ``access_log_format`` names.
Proved by tests/unit/test_logsetup.py (the lean line equals gunicorn's own, and another
format gets gunicorn's full set) and
tests/e2e/test_gunicorn.py::test_access_and_error_logs_share_the_app_format.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from gunicorn import glogging

from settings.logs import ACCESS_REQUEST_ID

# The access line's request id is the response's X-Request-ID (settings.logs.RequestIdFilter).
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'


def dict_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: the app's format and handlers (settings.logs) for its
    error and access logs; the access logger is silenced when GUNICORN_ACCESSLOG is off."""
    handler = {"()": "settings.logs.make_handler", "log_format": settings["LOG_FORMAT"]}
    handlers: dict[str, dict[str, Any]] = {"stderr": handler}
    if settings["LOG_FILE"]:
        handlers["file"] = {
            **handler,
            "filename": settings["LOG_FILE"],
            "max_bytes": settings["LOG_FILE_MAX_BYTES"],
            "backups": settings["LOG_FILE_BACKUPS"],
        }
    level = settings["LOG_LEVEL"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {},
        "handlers": handlers,
        "root": {"level": level, "handlers": list(handlers)},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": list(handlers), "propagate": False},
            "gunicorn.access": {
                "level": "INFO" if settings["GUNICORN_ACCESSLOG"] else "CRITICAL",
                "handlers": list(handlers),
                "propagate": False,
            },
        },
    }


class GunicornLogger(glogging.Logger):
    """gunicorn's logger, with the access line's atoms built from what ``access_log_format``
    uses: gunicorn's own builds a dict of every request header, response header and environ
    variable on every request (a tenth of a static answer's CPU). The same line comes out;
    a format that names other atoms gets gunicorn's full set."""

    LEAN_ATOMS = frozenset("hrsbMfa") | {ACCESS_REQUEST_ID}

    def setup(self, cfg) -> None:
        super().setup(cfg)
        used = set(re.findall(r"%\((.*?)\)", cfg.access_log_format))
        self.lean_atoms = used <= self.LEAN_ATOMS
        self.access_format = cfg.access_log_format

    def access(self, resp, req, environ, request_time) -> None:
        """gunicorn's ``access`` without ``Logger.info``'s search of the stack for its caller
        (the line names this method) and the config lookups per request."""
        log = self.access_log
        if not (self.access_log_enabled and log.isEnabledFor(logging.INFO)):
            return
        try:
            atoms = self.atoms(resp, req, environ, request_time)
            if self.lean_atoms:
                # Every atom the format can name is here: what SafeAtoms' lookups add is the
                # escaped quotes (any value a client sends or a header carries) and "-".
                atoms.setdefault(ACCESS_REQUEST_ID, "-")
                for name, value in atoms.items():
                    if isinstance(value, str) and '"' in value:
                        atoms[name] = value.replace('"', '\\"')
            else:
                atoms = self.atoms_wrapper_class(atoms)
            fn, lno = ACCESS_CALLER
            log.handle(log.makeRecord(log.name, logging.INFO, fn, lno, self.access_format, (atoms,), None))
        except Exception:
            self.exception("access log line failed")

    def atoms(self, resp, req, environ, request_time):
        if not getattr(self, "lean_atoms", False):
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        atoms = {
            "h": environ.get("REMOTE_ADDR", "-"),
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status,
            "b": str(sent) if sent is not None else "-",
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
        }
        for name, value in resp.headers:
            if name.lower() == "x-request-id":
                atoms[ACCESS_REQUEST_ID] = value
        return atoms


# Where an access line says it comes from (``file:line``): the method above.
ACCESS_CALLER = (GunicornLogger.access.__code__.co_filename, GunicornLogger.access.__code__.co_firstlineno)
