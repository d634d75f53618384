"""PyMySQL connections that parse each distinct column definition once per process.

Every result set starts with one definition packet per column (catalog, schema, table and
column names, type, flags), and PyMySQL parses each into a ``FieldDescriptorPacket`` for
every statement: six per read by id, 13 % of its Python calls (bench/README.md). A parsed
definition is a pure function of the packet's bytes and the connection's encoding, and the
app's statements return the same few, so it is kept and shared (nothing writes to it after
parsing). Rows are read as PyMySQL reads them.

``extensions.database`` connects through ``connect_dbapi`` in its ``do_connect`` hook, with the
arguments the dialect built: URL options, pool events and error handling stay SQLAlchemy's.
"""

from __future__ import annotations

from typing import Any

import pymysql.connections
from pymysql.protocol import FieldDescriptorPacket, MysqlPacket
from sqlalchemy.engine import Dialect

KEPT = 1024  # distinct definitions; past it the table starts again (a schema this app never has)
_columns: dict[tuple[bytes, str], FieldDescriptorPacket] = {}


def column_definition(data: bytes, encoding: str) -> FieldDescriptorPacket:
    """``FieldDescriptorPacket(data, encoding)``, parsed once per distinct packet."""
    key = (data, encoding)
    packet = _columns.get(key)
    if packet is None:
        packet = FieldDescriptorPacket(data, encoding)
        if data[:1] != b"\xff":  # never an error packet: PyMySQL raises it, nothing to keep
            if len(_columns) >= KEPT:
                _columns.clear()
            _columns[key] = packet
    return packet


class Connection(pymysql.connections.Connection):
    """PyMySQL's connection; column definitions come from ``column_definition``."""

    def _read_packet(self, packet_type: Any = MysqlPacket) -> Any:
        # PyMySQL 1.x reads each column definition with _read_packet(FieldDescriptorPacket).
        if packet_type is FieldDescriptorPacket:
            packet_type = column_definition
        return super()._read_packet(packet_type)


def connect_dbapi(dialect: Dialect, *cargs: Any, **cparams: Any) -> Any:
    """What ``dialect`` connects with: ``Connection`` for PyMySQL, else its own DBAPI's."""
    if dialect.driver == "pymysql":
        return Connection(*cargs, **cparams)
    return dialect.loaded_dbapi.connect(*cargs, **cparams)
