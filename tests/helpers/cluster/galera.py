"""A 3-node MariaDB Galera cluster behind HAProxy, each node in its own datadir.

Failure detection (what the failover figures depend on; docs/deployment-cluster.md):
- Galera: a silent peer is suspected after ``evs.suspect_timeout`` (2 s) and evicted after
  ``evs.inactive_timeout`` (3 s); keepalives every 0.5 s. Until the view changes, the survivors'
  commits wait (certification needs the whole view), so the eviction bounds the write gap.
- HAProxy: a clustercheck every 500 ms (``fall 2``: a node is out 1 s after it stops being
  Synced), and its open sessions are cut (``on-marked-down shutdown-sessions``) so the app's
  pool reconnects at once instead of waiting on a dead socket; a connection a dead node
  refuses before then is redispatched to another node.
- A killed node is restarted as MariaDB's systemd unit does it (``galera_recovery`` first),
  so it catches up by IST; without its recovered position it would ask for a full SST.
HAProxy balances over the three nodes (``roundrobin``, per connection): writers on different
nodes abort each other at certification (error 1213), which the app retries as a whole and
settles by the compare-and-set on ``version``; the tier proves that, where a single writer
would hide it.
"""

from __future__ import annotations

import concurrent.futures
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymysql

from tests.helpers.cluster.procs import Daemon, Gone, binary, cluster_port, wait_until
from tests.helpers.require import need

PROVIDER = Path("/usr/lib/galera/libgalera_smm.so")
TIMEOUTS = {
    "evs.keepalive_period": "PT0.5S",
    "evs.inactive_check_period": "PT0.5S",
    "evs.suspect_timeout": "PT2S",
    "evs.inactive_timeout": "PT3S",
    "evs.install_timeout": "PT3S",
}
# A dead node fails its check at once (refused); the timeout only bounds a hung one, and a
# busy host must not fail every node together (seen at 400 ms: all three out, a 3 s gap).
HAPROXY_CHECK = {"inter": "500ms", "fall": 2, "rise": 2, "timeout": "1500ms"}
SYNCED = "4"
ROOT = Path(__file__).resolve().parents[3]
# As root, mariadbd drops to this user; so does the rsync daemon of an SST, which as root
# would switch to "nobody" and fail to write the datadir.
OS_USER = "mysql"


def connect_unix(path: str, **kwargs) -> pymysql.Connection:
    """pymysql over a Unix socket, as root. pymysql leaves its socket unclosed when the
    connect() itself fails (a killed node's socket file refuses), which pytest's
    ``filterwarnings = error`` turns into a failure: the socket is made and closed here."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(1)
        sock.connect(path)
        conn = pymysql.connect(
            unix_socket=path, user="root", defer_connect=True, connect_timeout=1, read_timeout=2, **kwargs
        )
        conn.connect(sock)
        return conn
    except BaseException:
        sock.close()
        raise


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(OS_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


class GaleraNode:
    def __init__(self, index: int, base: Path, mariadbd: str):
        self.index = index
        self.name = f"g{index}"
        self.dir = base / self.name
        self.datadir = self.dir / "data"
        self.socket = str(self.dir / "mysqld.sock")
        self.port, self.gcomm_port, self.ist_port, self.sst_port = (cluster_port() for _ in range(4))
        self.check_port = cluster_port()
        self.mariadbd = mariadbd
        self.daemon: Daemon | None = None
        self.last_transfer = ""  # how the last restart caught up: "IST" or "SST"

    def argv(self, cluster_address: str, *, new_cluster: bool) -> list[str]:
        options = {
            "gmcast.listen_addr": f"tcp://127.0.0.1:{self.gcomm_port}",
            "ist.recv_addr": f"127.0.0.1:{self.ist_port}",
            "gcache.size": "64M",
            **TIMEOUTS,
        }
        argv = [
            self.mariadbd,
            "--no-defaults",
            f"--user={OS_USER}",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.dir / 'mysqld.pid'}",
            f"--log-error={self.dir / 'error.log'}",
            f"--tmpdir={self.dir}",
            "--skip-name-resolve",
            "--performance-schema=OFF",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
            "--innodb-flush-log-at-trx-commit=2",  # Galera's replication is the durability
            "--max-connections=200",
            "--binlog-format=ROW",
            "--innodb-autoinc-lock-mode=2",
            "--default-storage-engine=InnoDB",
            "--wsrep-on=ON",
            f"--wsrep-provider={PROVIDER}",
            "--wsrep-cluster-name=wdapi-test",
            f"--wsrep-cluster-address={cluster_address}",
            f"--wsrep-node-name={self.name}",
            "--wsrep-node-address=127.0.0.1",
            "--wsrep-sst-method=rsync",
            f"--wsrep-sst-receive-address=127.0.0.1:{self.sst_port}",
            "--wsrep-provider-options=" + ";".join(f"{k}={v}" for k, v in options.items()),
        ]
        if new_cluster:
            argv.append("--wsrep-new-cluster")
        return argv

    def start(self, cluster_address: str, *, new_cluster: bool = False, position: str | None = None) -> None:
        argv = self.argv(cluster_address, new_cluster=new_cluster)
        if position is not None:
            argv.append(f"--wsrep-start-position={position}")
        self.daemon = Daemon(self.name, argv, self.dir / "stdout.log").start()

    def recover_position(self, cluster_address: str) -> str:
        """What MariaDB's systemd unit runs before it starts a crashed node (galera_recovery):
        the position InnoDB holds, so the node asks for IST (the writesets it missed, from a
        survivor's gcache) instead of a full SST, whose rsync donor locks its tables."""
        log = self.dir / "recover.log"
        log.unlink(missing_ok=True)  # only this run's position counts
        argv = [a for a in self.argv(cluster_address, new_cluster=False) if not a.startswith("--log-error=")]
        subprocess.run(
            [*argv, "--wsrep-recover", f"--log-error={log}"], check=True, capture_output=True, timeout=120
        )
        for line in reversed(log.read_text(errors="replace").splitlines()):
            if "WSREP: Recovered position:" in line:
                return line.split("WSREP: Recovered position:", 1)[1].strip()
        raise RuntimeError(f"Galera node {self.name}: no recovered position\n{log.read_text()[-2000:]}")

    def status(self, name: str) -> str | None:
        try:
            conn = connect_unix(self.socket)
        except OSError as err:
            raise pymysql.OperationalError(2002, str(err)) from err
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
                row = cur.fetchone()
                return None if row is None else row[1]
        finally:
            conn.close()

    def synced(self) -> bool:
        try:
            return self.status("wsrep_local_state") == SYNCED
        except pymysql.MySQLError:
            return False

    def wait_synced(self, timeout: float) -> float:
        def ready() -> bool:
            if not self.daemon or not self.daemon.alive():
                raise Gone(f"Galera node {self.name} exited")
            return self.synced()

        try:
            return wait_until(ready, timeout, f"Galera node {self.name} Synced")
        except RuntimeError as err:  # Gone too
            raise RuntimeError(f"{err}\n{self.error_log()}") from None

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"


class GaleraCluster:
    """Three nodes, one checker process, one HAProxy; ``start()`` takes 12-17 s on a busy host."""

    def __init__(self, size: int = 3):
        self.mariadbd = binary("mariadbd", "/usr/sbin/mariadbd")
        self.install_db = binary("mariadb-install-db")
        self.haproxy_bin = binary("haproxy", "/usr/sbin/haproxy")
        binary("rsync")  # the SST method
        if not PROVIDER.exists():
            need(f"{PROVIDER} is missing (Debian package galera-4)")
        # Not under pytest's tmp dir: that one is private to root, and the nodes run as OS_USER.
        self.base = Path(tempfile.mkdtemp(prefix="wdapi-galera-"))
        self.base.chmod(0o755)
        base = self.base
        self.nodes = [GaleraNode(i + 1, base, self.mariadbd) for i in range(size)]
        self.port = cluster_port()  # HAProxy
        self.stats_socket = str(base / "haproxy.sock")
        self.checker: Daemon | None = None
        self.haproxy: Daemon | None = None
        self.timings: dict[str, float] = {}

    @property
    def address(self) -> str:
        return "gcomm://" + ",".join(f"127.0.0.1:{n.gcomm_port}" for n in self.nodes)

    def url(self, database: str) -> str:
        """Through HAProxy."""
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def start(self, timeout: float = 240) -> GaleraCluster:
        started = time.monotonic()
        first, *others = self.nodes
        for node in self.nodes:
            node.datadir.mkdir(parents=True)
            _own(node.dir)
            _own(node.datadir)
        # Only the first node is initialised: the others get its data by SST when they join.
        subprocess.run(
            [
                self.install_db,
                "--no-defaults",
                f"--user={OS_USER}",
                f"--datadir={first.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        first.start(self.address, new_cluster=True)
        first.wait_synced(timeout)
        conn = connect_unix(first.socket, autocommit=True)
        with conn.cursor() as cur:
            # TCP clients (HAProxy, the app) come from 127.0.0.1; skip-name-resolve: no "localhost".
            cur.execute("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''")
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
        conn.close()
        self.timings["bootstrap"] = time.monotonic() - started
        for node in others:
            node.start(self.address)
        with concurrent.futures.ThreadPoolExecutor(len(others)) as pool:
            list(pool.map(lambda n: n.wait_synced(timeout), others))
        self.timings["nodes"] = time.monotonic() - started
        self._start_checker()
        self._start_haproxy()
        wait_until(lambda: self.haproxy_state().get("g1") == "UP", 30, "HAProxy marks g1 UP")
        self.timings["total"] = time.monotonic() - started
        return self

    def _start_checker(self) -> None:
        pairs = [f"{n.check_port}={n.socket}" for n in self.nodes]
        self.checker = Daemon(
            "galera-check",
            [sys.executable, "-m", "tests.helpers.cluster.galera_check", *pairs],
            self.base / "galera-check.log",
            cwd=ROOT,
        ).start()

    def haproxy_config(self) -> str:
        c = HAPROXY_CHECK
        servers = []
        for node in self.nodes:
            servers.append(f"    server {node.name} 127.0.0.1:{node.port} check port {node.check_port}")
        return "\n".join(
            [
                "global",
                f"    stats socket {self.stats_socket} mode 600 level admin",
                "    maxconn 4000",
                "defaults",
                "    mode tcp",
                "    timeout connect 1s",
                "    timeout client 1h",
                "    timeout server 1h",
                f"    timeout check {c['timeout']}",
                "listen galera",
                f"    bind 127.0.0.1:{self.port}",
                "    balance roundrobin",
                "    option httpchk GET /",
                # A new connection refused by a node not yet marked DOWN goes to another.
                "    option redispatch 1",
                "    http-check expect status 200",
                # Down: its sessions are cut, so the app's pool reconnects at once.
                f"    default-server inter {c['inter']} fall {c['fall']} rise {c['rise']}"
                " on-marked-down shutdown-sessions",
                *servers,
                "",
            ]
        )

    def _start_haproxy(self) -> None:
        config = self.base / "haproxy.cfg"
        config.write_text(self.haproxy_config())
        subprocess.run([self.haproxy_bin, "-c", "-q", "-f", str(config)], check=True, capture_output=True)
        self.haproxy = Daemon(
            "haproxy", [self.haproxy_bin, "-db", "-f", str(config)], self.base / "haproxy.log"
        )
        self.haproxy.start()

    def haproxy_state(self) -> dict[str, str]:
        """Each server's status as HAProxy sees it (UP, DOWN, ...)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(self.stats_socket)
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        states = {}
        for line in data.decode().splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "galera" and fields[1] not in ("FRONTEND", "BACKEND"):
                states[fields[1]] = fields[17]
        return states

    def wait_healthy(self, timeout: float = 60) -> None:
        """Every node Synced and UP in HAProxy (a test leaves the cluster so for the next)."""
        for node in self.nodes:
            node.wait_synced(timeout)
        wait_until(
            lambda: all(state == "UP" for state in self.haproxy_state().values()), timeout, "HAProxy: all UP"
        )

    def routed_to(self) -> str:
        """The node a new connection through HAProxy reaches."""
        conn = pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", connect_timeout=2, read_timeout=5
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@wsrep_node_name")
                return cur.fetchone()[0]
        finally:
            conn.close()

    def kill(self, node: GaleraNode) -> None:
        assert node.daemon is not None
        node.daemon.kill()

    def wait_evicted(self, node: GaleraNode, timeout: float = 30) -> float:
        """Until the other nodes form a primary component without ``node``; seconds waited."""
        others = [n for n in self.nodes if n is not node]
        size = str(len(others))

        def dropped() -> bool:
            return all(
                n.status("wsrep_cluster_size") == size and n.status("wsrep_cluster_status") == "Primary"
                for n in others
            )

        return wait_until(dropped, timeout, f"the survivors drop {node.name}")

    def restart(self, node: GaleraNode, timeout: float = 180) -> float:
        """Start a killed node again as the packaged service would (its recovered position
        first); seconds from the recovery pass until it is Synced. It rejoins by IST while the
        survivors' gcache holds what it missed."""
        log = node.dir / "error.log"
        seen = log.stat().st_size if log.exists() else 0
        started = time.monotonic()
        node.start(self.address, position=node.recover_position(self.address))
        node.wait_synced(timeout)
        with open(log, "rb") as f:
            f.seek(seen)
            text = f.read()
        # The rsync method's joiner script says which transfer it completed.
        done = [kind for kind in ("IST", "SST") if f"rsync {kind} completed on joiner".encode() in text]
        node.last_transfer = done[0] if len(done) == 1 else "unknown"
        return time.monotonic() - started

    def stop(self) -> None:
        for daemon in (self.haproxy, self.checker):
            if daemon is not None:
                daemon.stop(5)
        for node in reversed(self.nodes):
            if node.daemon is not None:
                node.daemon.stop(30)

    def remove(self, keep_logs: Path | None = None) -> None:
        """Delete the datadirs; copy the logs to ``keep_logs`` first."""
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            for log in self.base.glob("**/*.log"):
                shutil.copyfile(log, keep_logs / "-".join(log.relative_to(self.base).parts))
        shutil.rmtree(self.base, ignore_errors=True)
