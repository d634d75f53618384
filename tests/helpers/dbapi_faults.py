"""Deterministic database faults at the DBAPI level, where the fault proxy cannot aim.

``commit_answer_lost``: the server commits, then the client gets no answer, as when a node
dies or the network drops between COMMIT and its OK. The TCP proxy cannot time this cut
(the OK follows the COMMIT within a millisecond, on the same connection), so the dialect's
``do_commit`` runs the real COMMIT and then raises the driver's own "lost connection" error
(MySQL client error 2013), which SQLAlchemy treats as a disconnect, as it would the real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

LOST = 2013  # CR_SERVER_LOST: "Lost connection to MySQL server during query"


@contextmanager
def commit_answer_lost(engine: Engine, *, times: int = 1) -> Iterator[list[int]]:
    """The next ``times`` COMMITs on ``engine`` take effect but answer with a lost
    connection; yields a list that counts them."""
    dialect = engine.dialect
    real = dialect.do_commit
    lost: list[int] = []

    def do_commit(dbapi_connection) -> None:
        real(dbapi_connection)
        if len(lost) < times:
            lost.append(1)
            raise dialect.loaded_dbapi.OperationalError(LOST, "Lost connection to server during query")

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    try:
        yield lost
    finally:
        del dialect.do_commit  # the class's method again
