"""Counting the commands PyMySQL sends (each waits for its answer: one round trip each)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pymysql.connections import Connection
from pymysql.constants import COMMAND
from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def sent_commands() -> Iterator[list[str]]:
    """Every command any PyMySQL connection of this process sends meanwhile, in order: ``PING``,
    or a query's first word (``SELECT``, ``ROLLBACK``...). The commands still reach the server."""
    sent: list[str] = []
    real = Connection._execute_command

    def execute_command(self, command, sql):
        if command == COMMAND.COM_PING:
            sent.append("PING")
        else:
            text = sql.decode(errors="replace") if isinstance(sql, bytes) else str(sql)
            sent.append(text.split(None, 1)[0].upper() if text.strip() else str(command))
        return real(self, command, sql)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Connection, "_execute_command", execute_command)
        yield sent


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[str]]:
    """The first word of every statement ``engine``'s connections send meanwhile, counted at
    the driver, so the reads on the DB-API cursor (``extensions.database.fetch_all``) count
    too: PyMySQL's commands on MySQL, sqlite3's trace callback on SQLite."""
    if engine.dialect.name == "mysql":
        with sent_commands() as sent:
            yield sent
        return
    sent = []
    tracing = True

    def trace(statement: str) -> None:
        if tracing:
            sent.append(statement.split(None, 1)[0].upper())

    def on_checkout(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.set_trace_callback(trace)

    event.listen(engine.pool, "checkout", on_checkout)
    try:
        yield sent
    finally:
        tracing = False
        event.remove(engine.pool, "checkout", on_checkout)
