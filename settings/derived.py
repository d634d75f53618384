"""Settings computed from other settings, once, by the loader (``settings.load``).

Every reader (the extensions, readiness checks, gunicorn.conf.py, the relay) sees the
resolved value; nothing rewrites a setting later or writes one to the environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import make_url

# The keys whose loaded value is computed here rather than taken as parsed.
DERIVED = frozenset(
    {"SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "AMQP_URL", "DB_CONNECTION_SLOTS"}
)
DEFAULT_DATABASE = "wdapi.sqlite3"


def derive(values: Mapping[str, Any], instance_path: str) -> dict[str, Any]:
    """The DERIVED settings from the parsed ``values``."""
    uri = database_uri(values["SQLALCHEMY_DATABASE_URI"], instance_path)
    return {
        "SQLALCHEMY_DATABASE_URI": uri,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options({**values, "SQLALCHEMY_DATABASE_URI": uri}),
        "AMQP_URL": amqp_url(values),
        "DB_CONNECTION_SLOTS": connection_slots(values),
    }


def database_uri(uri: str | None, instance_path: str) -> str:
    """The database URL, with SQLite in the instance folder as the default and
    MySQL URLs forced onto PyMySQL with the 4-byte ``utf8mb4`` charset."""
    if not uri:
        return "sqlite:///" + os.path.join(instance_path, DEFAULT_DATABASE)
    url = make_url(uri)
    if url.get_backend_name() == "mysql":
        # utf8 is MySQL's 3-byte subset: emoji would be rejected or mangled.
        url = url.set(drivername="mysql+pymysql").update_query_dict({"charset": "utf8mb4"})
        return url.render_as_string(hide_password=False)
    return uri


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """SQLAlchemy engine options from the DB_* settings; SQLALCHEMY_ENGINE_OPTIONS last."""
    options: dict[str, Any] = {"pool_pre_ping": config["DB_POOL_PRE_PING"]}
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    in_memory_sqlite = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if not in_memory_sqlite:
        options.update(
            pool_size=config["DB_POOL_SIZE"],
            max_overflow=config["DB_MAX_OVERFLOW"],
            pool_timeout=config["DB_POOL_TIMEOUT"],
            pool_recycle=config["DB_POOL_RECYCLE"],
        )
    if url.get_backend_name() == "mysql":
        options["connect_args"] = {
            "connect_timeout": config["DB_CONNECT_TIMEOUT"],
            "read_timeout": config["DB_READ_TIMEOUT"],
            "write_timeout": config["DB_READ_TIMEOUT"],
        }
        # PyMySQL 1.2 tries TLS on every connection unless told otherwise, building an SSL
        # context each time (the system CA store: 0.8-2.4 MiB and ~20 ms per connection) to
        # talk to a server it does not verify. Over loopback that protects nothing; a URL
        # with ssl_* options keeps them.
        if is_loopback(url.host or "localhost") and not any(key.startswith("ssl") for key in url.query):
            options["connect_args"]["ssl_disabled"] = True
    options.update(config["SQLALCHEMY_ENGINE_OPTIONS"] or {})
    return options


def read_engine_options(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The read engine's options: the session engine's (``engine_options``), but autocommit with
    no reset on checkin and no pre-ping, and on MySQL DB_FAIL_FAST as the read timeout, which
    also bounds the detection of a dead server; with DB_SYNC_WAIT, DB_READ_TIMEOUT: a read then
    waits for the cluster, seconds during a view change. None for SQLite in memory (no second
    engine)."""
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    if "pool_size" not in options:
        return None
    options |= {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None, "pool_pre_ping": False}
    if make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "mysql":
        bound = config["DB_READ_TIMEOUT"] if config["DB_SYNC_WAIT"] else config["DB_FAIL_FAST"]
        timeouts = {"read_timeout": bound, "write_timeout": bound}
        options["connect_args"] = {**options.get("connect_args", {}), **timeouts}
        # Connection.close() would still send ROLLBACK on an autocommit connection.
        options["skip_autocommit_rollback"] = True
    return options


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine over loopback: 127.0.0.0/8, ::1 or localhost."""
    if not host:
        return False  # "" binds every interface
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def amqp_url(config: Mapping[str, Any]) -> str:
    """``AMQP_URL`` if set, else a URL from the ``RABBIT_*`` settings (default vhost);
    empty when both ``AMQP_URL`` and ``RABBIT_HOST`` are: RabbitMQ is disabled."""
    if config.get("AMQP_URL"):
        return config["AMQP_URL"]
    if not config.get("RABBIT_HOST"):
        return ""
    user = quote(config["RABBIT_USER"], safe="")
    password = quote(config["RABBIT_PASSWORD"], safe="")
    return f"amqp://{user}:{password}@{config['RABBIT_HOST']}:{config['RABBIT_PORT']}/%2F"


def connection_slots(config: Mapping[str, Any]) -> int:
    """``DB_CONNECTION_SLOTS`` as set, else ``GUNICORN_THREADS - 1`` with more than one thread:
    one thread per worker never waits for the database, so requests that need none (Redis
    keys, queues, /readyz) answer during a partition; /healthz has a thread of its own
    (serving.workers). 0: no cap."""
    if config["DB_CONNECTION_SLOTS"] is not None:
        return config["DB_CONNECTION_SLOTS"]
    threads = config["GUNICORN_THREADS"]
    return threads - 1 if threads > 1 else 0
