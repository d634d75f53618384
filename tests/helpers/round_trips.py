"""Counting the commands PyMySQL sends (each waits for its answer: one round trip each)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pymysql.connections import Connection
from pymysql.constants import COMMAND


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
