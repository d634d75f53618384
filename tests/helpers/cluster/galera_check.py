"""A clustercheck for HAProxy: ``python -m tests.helpers.cluster.galera_check PORT=SOCKET ...``
answers 200 on PORT only while the MariaDB node at SOCKET is Synced (wsrep_local_state 4).

Its own process, so the test's load threads cannot delay an answer past HAProxy's check timeout.
"""

from __future__ import annotations

import sys
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql

SYNCED = "4"


def synced(socket_path: str) -> bool:
    try:
        conn = pymysql.connect(unix_socket=socket_path, user="root", connect_timeout=1, read_timeout=1)
    except pymysql.MySQLError:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_local_state'")
            row = cur.fetchone()
        return row is not None and row[1] == SYNCED
    except pymysql.MySQLError:
        return False
    finally:
        conn.close()


class Check(BaseHTTPRequestHandler):
    def __init__(self, socket_path: str, *args, **kwargs):
        self.socket_path = socket_path
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        ok = synced(self.socket_path)
        body = b"synced\n" if ok else b"not synced\n"
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass  # two checks a second per node: no log


def main(pairs: list[str]) -> None:
    servers = []
    for pair in pairs:
        port, socket_path = pair.split("=", 1)
        servers.append(ThreadingHTTPServer(("127.0.0.1", int(port)), partial(Check, socket_path)))
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
