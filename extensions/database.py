"""The database extension: Flask-SQLAlchemy with the engine options, the SQLite pragmas, a
per-process circuit breaker, and the mapping of connection failures onto the domain's
``Unavailable``, in one ``init_app``.

The breaker (``Breaker``) is small and ours rather than pybreaker's: besides counting
consecutive connection failures it bounds how many threads may hold a connection at once
(``GUNICORN_THREADS - 1``), so a black-holed database can never take the last thread of a
worker and requests that need no database keep answering; pybreaker wraps single calls and
has no such slot.

Two engines share one breaker and one slot budget: the ORM session's, whose write
transactions are not pinged (a dead pooled connection fails the first statement and
``transaction`` runs it again) and are rolled back at checkin only when not known to have
ended, and the read engine (``read``): autocommit connections, no ping, no reset, so a read
is its one statement.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Insert, Select, Table, event, insert, text
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import QueuePool

from core.context import app_object
from core.errors import Unavailable
from extensions.metrics import DB_WRITE_RETRIES
from extensions.mysql_driver import connect_dbapi
from settings.derived import read_engine_options

# What a database that cannot be reached raises: a refused or lost connection, an empty pool.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (OperationalError, DisconnectionError, PoolTimeout)
log = logging.getLogger(__name__)
UNAVAILABLE = "The database is unavailable; try again shortly."
BREAKER = "wdapi.db_breaker"
READ_ENGINE = "wdapi.db_read_engine"
ENGINES = "wdapi.db_engines"  # (session engine, read engine), or one when they are the same


class CircuitOpen(DisconnectionError):
    """The breaker refused a connection: the database failed just now; ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
STATE_CODES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
# A checkout (pool, connect, ping, or a read's statement: milliseconds when well) this old,
# once the database has failed (a connection failure, a timeout): stuck, not busy.
STUCK_CHECKOUT = 0.25
SLOT_POLL = 0.01
SLOT = "wdapi.slot"
PROBE_THREAD = "db-breaker-probe"


class Breaker:
    """Per process: opens after ``threshold`` consecutive connection failures, refuses for
    ``reset_after`` seconds, then probes in a background thread (half-open, still refusing)
    and closes or reopens on the outcome.

    With ``slots``, at most that many connections are held at once. A thread that finds
    them all held waits (up to ``pool_timeout``, as for a pooled connection) while the
    database is well: a busy database never gets a 503 from the slots. It gives up at once
    when the database is known to be failing: the breaker opens, or a checkout has been
    stuck for ``stuck_after`` seconds (past its own ping and connect timeouts: hung), or for
    STUCK_CHECKOUT since a failure was seen."""

    def __init__(
        self,
        *,
        threshold: int,
        reset_after: float,
        fail_fast: float,
        slots: int | None,
        pool_timeout: float,
        stuck_after: float | None = None,
    ):
        self.threshold = threshold
        self.reset_after = reset_after
        self.fail_fast = fail_fast
        self.stuck_after = fail_fast if stuck_after is None else stuck_after
        self.slots = slots
        self.pool_timeout = pool_timeout
        self.state = CLOSED
        self.failures = 0
        self.suspect = False  # a ping timed out or a connection failed since the last success
        self.opened_at = 0.0
        self._lost_at = 0.0  # time.time() of the last counted loss of an open connection
        self._lock = threading.Lock()
        self._free = threading.Semaphore(slots or 1)
        self.probe: Callable[[], None] = lambda: None  # set with the engine: one checkout and checkin
        self._held: dict[object, float] = {}  # slot -> since when its connection is held
        # Slots still connecting or pinging, or (read pool) until checkin: a read is its checkout.
        self._checking_out: dict[object, float] = {}

    def retry_after(self) -> float:
        if self.state == CLOSED:
            return self.reset_after
        return max(self.opened_at + self.reset_after - time.monotonic(), 0.0)

    def _refuse(self, why: str) -> CircuitOpen:
        return CircuitOpen(f"database circuit {why}", max(self.retry_after(), 1.0))

    def _stuck(self) -> str | None:
        """Why a thread must not wait for (or take) a slot now, if it must not."""
        if self.state != CLOSED:
            return self.state
        with self._lock:
            oldest = min(self._checking_out.values(), default=None)
        if oldest is None:
            return None
        stuck_for = time.monotonic() - oldest
        if stuck_for > self.stuck_after or (self.suspect and stuck_for > STUCK_CHECKOUT):
            return f"failing: a checkout stuck for {stuck_for:.2f} s"
        return None

    def admit(self) -> object | None:
        """Before a checkout: a slot to release at checkin. Raises CircuitOpen while open, or
        while the database is known to be failing and a slot is not free or others are stuck."""
        with self._lock:
            if self.state != CLOSED:
                # A probe that never concluded (half-open too long) is replaced by a new one.
                if time.monotonic() >= self.opened_at + self.reset_after:
                    self.state, self.opened_at = HALF_OPEN, time.monotonic()
                    threading.Thread(target=self._run_probe, name=PROBE_THREAD, daemon=True).start()
                if threading.current_thread().name != PROBE_THREAD:
                    log.debug("database connection refused: circuit %s", self.state)
                    raise self._refuse(self.state)
        if self.slots is None or threading.current_thread().name == PROBE_THREAD:
            return None  # the probe runs on its own thread: it takes no worker thread's slot
        # Since a failure, a new checkout beside stuck ones would only hang too.
        why = self._stuck() if self.suspect else None
        deadline = time.monotonic() + self.pool_timeout
        while why is None and not self._free.acquire(timeout=SLOT_POLL):
            why = self._stuck()
            if why is None and time.monotonic() >= deadline:
                why = f"saturated: every connection slot held for {self.pool_timeout:g} s"
        if why is not None:
            log.info("database connection refused (%d slots in use): %s", self.in_use(), why)
            raise self._refuse(why)
        slot = object()
        with self._lock:
            self._held[slot] = self._checking_out[slot] = time.monotonic()
        return slot

    def checked_out(self, slot: object) -> None:
        with self._lock:
            self._checking_out.pop(slot, None)

    def _run_probe(self) -> None:
        # Half-open: one connection attempt in the background, so no client waits for it.
        log.info("database circuit half-open: probing")
        try:
            self.probe()  # a checkout through admit(): succeeded() or failed() follows
        except Exception as err:
            log.info("database circuit probe failed: %s", type(err).__name__)
            if self.state == HALF_OPEN:  # e.g. a pool timeout: no verdict, so stay open
                self.failed()

    def release(self, slot: object) -> None:
        """After a checkin (or a failed checkout): the slot ``admit`` gave."""
        with self._lock:
            self._checking_out.pop(slot, None)
            held = self._held.pop(slot, None) is not None
        if held:
            self._free.release()

    def in_use(self) -> int:
        return len(self._held)

    def succeeded(self) -> None:
        if self.failures or self.suspect or self.state != CLOSED:
            with self._lock:
                if self.state != CLOSED:
                    log.info("database circuit closed: the database answers again")
                self.state, self.failures, self.suspect = CLOSED, 0, False

    def ping_timed_out(self) -> None:
        """A pre-ping timed out: not yet a failure (the pool reconnects), but a warning sign."""
        self.suspect = True

    def lost(self, connected_at: float) -> None:
        """A statement lost its connection, opened at ``connected_at`` (``time.time()``).

        Nothing pings at checkout, so one outage (a restart, a killed Galera node, an idle cut)
        fails the next statement of every open connection of both engines. Only the first
        counts: a connection opened before the last counted loss is already known dead, and the
        retries' fresh connections decide (two threads at once would open the breaker on a
        server that answers)."""
        with self._lock:
            if connected_at < self._lost_at:
                return
            self._lost_at = time.time()
        self.failed()

    def failed(self) -> None:
        with self._lock:
            self.failures += 1
            self.suspect = True
            if self.state == HALF_OPEN or (self.state == CLOSED and self.failures >= self.threshold):
                log.warning("database circuit open after %d connection failures", self.failures)
                self.state, self.opened_at = OPEN, time.monotonic()


class GuardedPool(QueuePool):
    """A QueuePool that asks its ``breaker`` before each checkout (set per engine)."""

    breaker: Breaker
    # The read pool's slot counts as checking out until its statement has answered.
    reads = False
    # Only a pinged checkout proves the database answers; else a statement's answer does
    # (``read``, or the session engine's after_cursor_execute).
    pinged = False

    def connect(self):
        slot = self.breaker.admit()
        try:
            connection = super().connect()
        except PoolTimeout:  # every pooled connection in use: busy, not down
            self.breaker.release(slot)
            raise
        except Exception:
            self.breaker.release(slot)
            self.breaker.failed()
            raise
        record_info = connection.record_info
        assert record_info is not None  # a checked-out connection has its record
        record_info[SLOT] = slot  # released by the checkin event
        if not self.reads:
            self.breaker.checked_out(slot)
        if self.pinged:
            self.breaker.succeeded()
        return connection


def _count_failure(ctx, breaker: Breaker) -> None:
    # A connection lost mid-query (a read timeout) counts like a failed checkout.
    if ctx.is_disconnect and ctx.connection is not None and not ctx.is_pre_ping:
        breaker.lost(_connected_at(ctx.connection.connection))


def _connected_at(fairy: Any) -> float:
    """When ``fairy``'s DB-API connection was opened (``time.time()``, the pool record's own
    ``starttime``); without a record, now (its loss counts)."""
    record = getattr(fairy, "_connection_record", None)
    return math.inf if record is None else record.starttime


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # LIKE is case-sensitive, as under MySQL's utf8mb4_bin collation.
    cursor.execute("PRAGMA case_sensitive_like = ON")
    # WAL lets readers proceed while a writer (another gunicorn worker) commits.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def unavailable(err: Exception) -> Unavailable:
    """The domain error for one of CONNECTION_ERRORS."""
    return Unavailable(UNAVAILABLE)


def retry_after(err: Exception) -> int:
    """Seconds a client should wait after ``err`` (one of CONNECTION_ERRORS): until the
    breaker probes again, else its reset interval."""
    if isinstance(err, CircuitOpen):
        return math.ceil(err.retry_after)
    breaker = current_app.extensions.get(BREAKER)
    return math.ceil(breaker.retry_after()) if breaker is not None else 1


def _fast_ping(fail_fast: float, breaker: Breaker):
    # PyMySQL has no per-call timeout: the pre-ping borrows the fail-fast bound as its
    # read timeout, so a black-holed server costs DB_FAIL_FAST, not DB_READ_TIMEOUT.
    def do_ping(dbapi_connection) -> bool:
        saved = getattr(dbapi_connection, "_read_timeout", None)
        dbapi_connection._read_timeout = fail_fast
        started = time.monotonic()
        try:
            dbapi_connection.ping(reconnect=False)
        except Exception:
            # A timeout, not a connection the server closed while idle (that fails at once).
            if time.monotonic() - started >= fail_fast * 0.9:
                breaker.ping_timed_out()
            raise
        finally:
            dbapi_connection._read_timeout = saved
        return True

    return do_ping


def _fast_handshake(fail_fast: float):
    # PyMySQL waits for the server's greeting with its read timeout: a black-holed server
    # would hold a new connection DB_READ_TIMEOUT, where DB_FAIL_FAST is the bound (a write's
    # retry after a lost connection connects anew). Statements keep their read timeout.
    # PyMySQL's connection class parses each column definition once (extensions.mysql_driver).
    def do_connect(dialect, _record, cargs, cparams):
        connection = connect_dbapi(dialect, *cargs, **{**cparams, "read_timeout": fail_fast})
        connection._read_timeout = cparams.get("read_timeout")
        return connection

    return do_connect


def breaker_for(config: Mapping[str, Any]) -> Breaker:
    """A new breaker from the DB_* settings, for both of an app's engines."""
    return Breaker(
        threshold=config["DB_BREAKER_THRESHOLD"],
        reset_after=config["DB_BREAKER_RESET"],
        fail_fast=config["DB_FAIL_FAST"],
        # A well checkout may ping (DB_FAIL_FAST) and reconnect (DB_CONNECT_TIMEOUT), and
        # take that long on a starved machine (seen: 1.05 s in a worker just booted).
        stuck_after=config["DB_FAIL_FAST"] + config["DB_CONNECT_TIMEOUT"],
        slots=config["DB_CONNECTION_SLOTS"] or None,
        pool_timeout=config["DB_POOL_TIMEOUT"],
    )


def guarded_pool(breaker: Breaker, *, reads: bool = False, pinged: bool = False) -> type[GuardedPool]:
    """A GuardedPool class asking ``breaker``."""
    # A class per engine: SQLAlchemy recreates the pool by its class (dispose, fork).
    return type("GuardedPool", (GuardedPool,), {"breaker": breaker, "reads": reads, "pinged": pinged})


# On a DBAPI connection's info: its last transaction ended by a COMMIT or ROLLBACK that answered.
ENDED = "wdapi.transaction_ended"


def _reset_unless_ended(engine: Engine) -> None:
    """SQLAlchemy's custom reset scheme (with ``pool_reset_on_return=None``): checkin rolls
    back only a transaction not known to have ended. The pool's own reset cannot tell: the
    session commits or rolls back before it closes its connection, so ``transaction_was_reset``
    is False then, and the ROLLBACK would be a round trip that changes nothing."""

    def mark(ended: bool):
        def listener(conn: Connection, *_: Any) -> None:
            if conn.invalidated:  # no checkin reset follows; .info would reconnect
                return
            if ended:
                conn.info[ENDED] = True
            else:
                conn.info.pop(ENDED, None)

        return listener

    # The commit and rollback events come before the DBAPI call: a failure raised by it
    # reaches handle_error, which takes the mark back.
    ended, begun = mark(True), mark(False)
    event.listen(engine, "commit", ended)
    event.listen(engine, "rollback", ended)
    event.listen(engine, "begin", begun)
    event.listen(engine, "handle_error", lambda ctx: ctx.connection is not None and begun(ctx.connection))

    def reset(dbapi_connection, record, state) -> None:
        # Popped on every checkin: a mark left by a Connection that SQLAlchemy reset itself
        # (closed inside its transaction) must not spare the next user's checkin its ROLLBACK.
        ended = record.info.pop(ENDED, False)
        if not (state.transaction_was_reset or ended):
            dbapi_connection.rollback()

    event.listen(engine, "reset", reset)


# Galera's: a read first waits for this node to apply every write set the cluster ordered
# before it (about one cluster round trip). Only servers built with wsrep know it (MariaDB's
# are, Galera on or off).
SYNC_WAIT = "wsrep_sync_wait"


def _sync_wait_on_connect(sync_wait: int):
    # Every read engine statement is a read that must see the cluster's acknowledged commits
    # (DB_SYNC_WAIT): set once per connection, it costs no round trip per read.
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if cursor.execute(f"SHOW VARIABLES LIKE '{SYNC_WAIT}'"):
                cursor.execute(f"SET SESSION {SYNC_WAIT} = {int(sync_wait)}")
        finally:
            cursor.close()

    return on_connect


class Database(SQLAlchemy):
    """``db``: binds like Flask-SQLAlchemy, with the app's URL, engine options and pragmas,
    and a read engine beside the session's (``read``)."""

    def init_app(self, app: Flask) -> None:
        # The URL and engine options come resolved from the settings loader (settings.derived).
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        if url.get_backend_name() == "sqlite" and url.database:
            if os.path.dirname(url.database) == app.instance_path:  # the default database
                os.makedirs(app.instance_path, exist_ok=True)
        super().init_app(app)
        with app.app_context():
            engine = self.engine
            reader = self._make_read_engine(app, engine)
            app.extensions[READ_ENGINE] = reader
            app.extensions[ENGINES] = (engine,) if reader is engine else (engine, reader)
            if reader is not engine:
                # Disposed with the session's engine (tests, forks): one call releases both.
                event.listen(engine, "engine_disposed", lambda _: reader.dispose())
                if app.config["DB_SYNC_WAIT"] and reader.dialect.name == "mysql":
                    event.listen(reader, "connect", _sync_wait_on_connect(app.config["DB_SYNC_WAIT"]))
            for each in {engine, reader}:
                if each.dialect.name == "sqlite":
                    event.listen(each, "connect", _sqlite_pragmas)
            self._guard(app, engine, reader)

    def _make_engine(self, bind_key: str | None, options: dict[str, Any], app: Flask):
        # Flask-SQLAlchemy's one call into SQLAlchemy, with the options it built from
        # app.config: the breaker (state, per app) joins them here, so app.config keeps
        # plain settings. Internal to Flask-SQLAlchemy (3.1); like _teardown_session below.
        reads = bind_key == READ_ENGINE
        if "pool_size" in options and "poolclass" not in options:  # a QueuePool: not SQLite in memory
            breaker = app.extensions.setdefault(BREAKER, breaker_for(app.config))
            pool = guarded_pool(breaker, reads=reads, pinged=bool(options.get("pool_pre_ping")))
            options = {**options, "poolclass": pool}
        if reads:  # autocommit, no reset at all (settings.derived)
            return super()._make_engine(bind_key, options, app)
        engine = super()._make_engine(bind_key, {**options, "pool_reset_on_return": None}, app)
        _reset_unless_ended(engine)
        return engine

    def _make_read_engine(self, app: Flask, engine: Engine) -> Engine:
        options = read_engine_options(app.config)
        if options is None:  # SQLite in memory: a second engine would be another database
            return engine
        echo = app.config["SQLALCHEMY_ECHO"]
        options = {"url": app.config["SQLALCHEMY_DATABASE_URI"], "echo": echo, "echo_pool": echo} | options
        self._apply_driver_defaults(options, app)
        return self._make_engine(READ_ENGINE, options, app)

    def _guard(self, app: Flask, engine: Engine, reader: Engine) -> None:
        # The breaker's hooks: slots freed at checkin, lost connections counted, a fast ping.
        guard: Breaker | None = app.extensions.get(BREAKER)
        if guard is None:
            return
        for each in {engine, reader}:
            event.listen(each.pool, "checkin", lambda _, rec: guard.release(rec.record_info.pop(SLOT, None)))
            event.listen(each, "handle_error", lambda ctx: _count_failure(ctx, guard))
        # A write's checkout does not ping: its statement's answer is the proof (a read
        # reports its own, in ``read``).
        event.listen(engine, "after_cursor_execute", lambda *_: guard.succeeded())
        dialect: Any = engine.dialect  # the read engine's is another object: it does not ping
        if dialect.name == "mysql":
            dialect.do_ping = _fast_ping(app.config["DB_FAIL_FAST"], guard)
            for each in {engine, reader}:
                event.listen(each, "do_connect", _fast_handshake(app.config["DB_FAIL_FAST"]))

        def probe() -> None:
            # A pooled connection proves nothing until it answers: ping it (within DB_FAIL_FAST).
            # One that fails invalidates the pool, as a pre-ping would, and a fresh one decides:
            # a stale pooled connection is not news of an outage.
            for last in (False, True):
                connection = engine.pool.connect()
                try:
                    assert connection.dbapi_connection is not None  # a checked-out connection has one
                    engine.dialect.do_ping(connection.dbapi_connection)
                except Exception as err:
                    engine.pool._invalidate(connection, err)  # what SQLAlchemy's pre-ping does
                    if last:
                        raise
                    continue
                finally:
                    connection.close()
                break
            guard.succeeded()

        guard.probe = probe

    @property
    def read_engine(self) -> Engine:
        """This app's read engine (``read``); call in an app context."""
        return current_app.extensions[READ_ENGINE]

    def checked_out(self) -> int | None:
        """Connections in use in both pools (None where the pools keep no count)."""
        # The engines as init_app made them: Flask-SQLAlchemy's ``engine`` resolves per call.
        pools = [engine.pool for engine in app_object().extensions[ENGINES]]
        counts = [pool.checkedout() for pool in pools if isinstance(pool, QueuePool)]
        return sum(counts) if counts else None

    @property
    def breaker(self) -> Breaker | None:
        """This app's breaker (None for SQLite in memory); call in an app context."""
        return app_object().extensions.get(BREAKER)

    def _teardown_session(self, exc: BaseException | None) -> None:
        # The rollback that ends a request fails when the server went away meanwhile; raised
        # from teardown it would replace the response (often a 503) with gunicorn's bare 500.
        try:
            super()._teardown_session(exc)
        except SQLAlchemyError as err:
            log.warning("database session could not be closed cleanly: %r", getattr(err, "orig", err))
            self.session.registry.clear()  # SQLAlchemy has invalidated the lost connection

    def probe(self) -> Callable[[float], None]:
        """A readiness probe on this app's pool (call in an app context, run anywhere)."""
        engine = self.engine

        def ping(timeout: float) -> None:
            # Nothing pings at checkout: a pooled connection the server closed is not "down".
            _once_more_if_lost(engine, _on_connection(lambda conn: conn.execute(text("SELECT 1"))))

        return ping


# --- Write transactions: run again as a whole when that is safe -------------------------

T = TypeVar("T")
# MySQL/MariaDB: a deadlock victim, and on Galera a transaction that failed certification
# (a conflicting write committed on another node), at any statement or at COMMIT.
DEADLOCK = 1213
WRITE_ATTEMPTS = 4
RETRY_BACKOFF = 0.02  # seconds, doubled per attempt, full jitter: racers do not meet again
_jitter = random.Random()  # its own: the global generator is the caller's (seeded in tests)


class RetryTransaction(Exception):
    """Raised by a transaction's work: roll back and run it again (e.g. a racing insert of
    the same key, whose outcome the next attempt reads)."""


def _retry_reason(err: BaseException, committing: bool) -> str | None:
    """Why running the transaction again is safe, or None when it is not."""
    if isinstance(err, RetryTransaction):
        return "asked"
    if isinstance(err, StaleDataError):  # the version compare-and-set matched no row
        return "version"
    if isinstance(err, DBAPIError):
        code = err.orig.args[0] if err.orig is not None and err.orig.args else None
        if code == DEADLOCK:  # rolled back by the server, COMMIT included
            return "deadlock"
        # Lost before COMMIT was sent: the server rolls the transaction back. Lost during
        # COMMIT: the outcome is unknown, so never run it again here.
        if err.connection_invalidated and not committing:
            return "connection"
    return None


def _rollback(session: Session | scoped_session) -> None:
    try:
        session.rollback()
    except SQLAlchemyError:  # the connection is gone; SQLAlchemy has invalidated it
        session.close()


def transaction(work: Callable[[], T], *, session: Session | scoped_session, after: Callable[[], None]) -> T:
    """``work()`` then COMMIT, as one transaction; run again as a whole (WRITE_ATTEMPTS in
    all, with jitter) after a deadlock or certification failure, a stale version, or a
    connection lost before COMMIT. ``after()`` runs on every path out once COMMIT was
    sent, also when its answer was lost (the outcome unknown). Raises what ``work`` raises,
    and the last error when the attempts run out or a retry is not safe."""

    def attempt() -> tuple[T, Callable[[], None]]:
        result = work()
        session.flush()  # a failure here is before COMMIT: safe to run again
        return result, session.commit

    return _retried(attempt, lambda: _rollback(session), after)


def _retried(
    attempt: Callable[[], tuple[T, Callable[[], None]]],
    rollback: Callable[[], None],
    after: Callable[[], None],
) -> T:
    """``transaction``'s loop: ``attempt()`` does the work and gives its result and the
    COMMIT to send; ``rollback()`` ends a failed attempt."""
    for number in range(1, WRITE_ATTEMPTS + 1):
        committing = False
        try:
            result, commit = attempt()
            committing = True
            commit()
            return result
        except Exception as err:
            rollback()
            reason = _retry_reason(err, committing)
            if reason is None or number == WRITE_ATTEMPTS:
                if reason is not None:
                    log.warning("write transaction gave up after %d attempts: %s", number, reason)
                raise
            DB_WRITE_RETRIES.labels(reason).inc()
            log.info("write transaction retried (attempt %d failed: %s)", number, reason)
            time.sleep(_jitter.uniform(0, RETRY_BACKOFF * 2 ** (number - 1)))
        finally:
            if committing:
                after()
    raise AssertionError("unreachable")  # the loop returns or raises


InsertRow = Callable[["RowInsert", Mapping[str, Any]], dict[str, Any]]


def insert_transaction(work: Callable[[InsertRow], T], *, engine: Engine, after: Callable[[], None]) -> T:
    """``transaction`` for work that only inserts rows, each by ``insert(row_insert, params)``
    (``RowInsert.run``'s values): on a pooled DB-API connection of ``engine``, with no ORM
    session. The session's begin, commit, close and teardown were a sixth of a POST's
    instructions (bench/README.md). Retried, rolled back and followed by ``after`` as
    ``transaction``; the checkout counts in the breaker and holds a slot as the session's
    does. Under SQLALCHEMY_ECHO the rows go through a session, which logs them."""
    if engine.echo:
        session = Session(engine)
        try:
            return transaction(
                lambda: work(lambda row, params: row.run(session, params)), session=session, after=after
            )
        finally:
            session.close()
    held: list[Any] = []

    def attempt() -> tuple[T, Callable[[], None]]:
        fairy = _checkout(engine)
        held.append(fairy)
        if engine.dialect.name == "sqlite":  # as ``transaction``'s callers take the write lock
            _send(engine, fairy, "BEGIN IMMEDIATE", ())
        result = work(lambda row, params: row.send(engine, fairy, params))

        def commit() -> None:
            held.remove(fairy)
            try:
                engine.dialect.do_commit(fairy.dbapi_connection)
                fairy.info[ENDED] = True  # answered: no ROLLBACK at checkin
            except engine.dialect.loaded_dbapi.Error as err:
                raise _driver_error(engine, fairy, None, err, "COMMIT", ()) from err
            except BaseException:
                fairy.invalidate()  # the outcome is unknown: never back to the pool as it is
                raise
            finally:
                fairy.close()

        return result, commit

    def rollback() -> None:
        for fairy in held:
            fairy.close()  # the checkin rolls back (the transaction did not end)
        held.clear()

    try:
        return _retried(attempt, rollback, after)
    except BaseException:
        for fairy in held:  # interrupted mid-protocol: never back to the pool as it is
            fairy.invalidate()
            fairy.close()
        raise


def _checkout(engine: Engine) -> Any:
    """A pooled DB-API connection of ``engine``, driver errors wrapped as SQLAlchemy's."""
    # Engine.connect() wraps the driver's errors; raw_connection() does not.
    try:
        return engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as err:
        raise _driver_error(engine, None, None, err, None, None) from err


def _send(engine: Engine, fairy: Any, sql: str, args: Any, conn: Connection | None = None) -> None:
    """One statement on ``fairy``'s cursor; driver errors wrapped as ``_driver_error`` does."""
    cursor = None
    try:
        cursor = fairy.cursor()
        cursor.execute(sql, args)
        cursor.close()
    except engine.dialect.loaded_dbapi.Error as err:
        raise _driver_error(engine, fairy, cursor, err, sql, args, conn) from err
    except BaseException:
        if conn is not None and not conn.invalidated:
            conn.invalidate()  # interrupted mid-protocol: never back to the pool as it is
        raise
    guard: Breaker | None = getattr(engine.pool, "breaker", None)
    if guard is not None:
        guard.succeeded()  # as the session engine's after_cursor_execute does


# --- Reads: one statement each, on the read engine ---------------------------------------


def read(work: Callable[[Connection], T]) -> T:
    """``work(connection)`` on an autocommit connection of the read engine: each statement
    is its own snapshot and one round trip. When the pooled connection turns out dead (a
    statement fails with the connection lost), ``work`` runs once more on a fresh one; a
    read is idempotent. Raises CONNECTION_ERRORS and what ``work`` raises."""

    return _read_once_more_if_lost(_on_connection(work))


def fetch_one(query: Query, params: Mapping[str, Any]) -> Any | None:
    """``query``'s first row (attribute access by column key, as a Row), or None, as ``read``
    runs it, retry included, on the DB-API cursor of a pooled connection. Raises
    CONNECTION_ERRORS."""
    rows = _fetch(query, params, one=True)
    return rows[0] if rows else None


def fetch_all(query: Query, params: Mapping[str, Any]) -> list[Any]:
    """``query``'s rows, as ``fetch_one``."""
    return _fetch(query, params, one=False)


def _fetch(query: Query, params: Mapping[str, Any], *, one: bool) -> list[Any]:
    engine: Engine = app_object().extensions[READ_ENGINE]
    if engine.echo:  # SQLALCHEMY_ECHO logs what SQLAlchemy executes: let it

        def logged(conn: Connection) -> list[Any]:
            result = conn.execute(query.statement, params)
            return list(result.fetchmany(1) if one else result.all())

        return read(logged)
    return _read_once_more_if_lost(lambda engine: query.fetch(engine, params, one=one), engine)


def _read_once_more_if_lost(attempt: Callable[[Engine], T], engine: Engine | None = None) -> T:
    if engine is None:
        engine = app_object().extensions[READ_ENGINE]
    result = _once_more_if_lost(engine, attempt)
    guard: Breaker | None = getattr(engine.pool, "breaker", None)
    if guard is not None:
        guard.succeeded()  # the read pool's checkout does not ping: this answer is the proof
    return result


def _once_more_if_lost(engine: Engine, attempt: Callable[[Engine], T]) -> T:
    """``attempt(engine)``, once more when its pooled connection turns out dead (``attempt``
    must be idempotent)."""
    try:
        return attempt(engine)
    except DBAPIError as err:
        # Invalidated: the statement lost its connection (a failed connect is not retried).
        if not err.connection_invalidated:
            raise
        log.info("database statement retried on a fresh connection: %r", err.orig)
        # The disconnect invalidated the whole pool: this checkout connects anew.
        return attempt(engine)


def _on_connection(work: Callable[[Connection], T]) -> Callable[[Engine], T]:
    def attempt(engine: Engine) -> T:
        with engine.connect() as conn:
            return work(conn)

    return attempt


class Query:
    """A SELECT for ``fetch_one``, compiled once per dialect. SQLAlchemy still checks out the
    connection (pool, breaker slot, handshake), compiles the statement, converts values with
    the column types' own bind and result processors and wraps driver errors as it does
    (``DBAPIError.instance``); what is skipped is its per-statement machinery (Connection,
    execution context, Result): 80 us of a read by id's 180 (bench/README.md)."""

    def __init__(self, statement: Select):
        self.statement = statement
        # An unnamed column (count(*)) gets a positional name (_0): read it by index.
        keys = [str(column.key) for column in statement.selected_columns]
        self.row = namedtuple("Row", keys, rename=True)  # type: ignore[misc]
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()

    def fetch(self, engine: Engine, params: Mapping[str, Any], *, one: bool) -> list[Any]:
        dbapi_error = engine.dialect.loaded_dbapi.Error
        fairy = _checkout(engine)
        try:
            # After the checkout: the first connect initializes the dialect (server version,
            # SQL mode), which the compiled SQL may depend on.
            compiled = self._compiled.get(engine.dialect)
            if compiled is None:
                compiled = self._compiled[engine.dialect] = _Compiled(self.statement, engine.dialect)
            args = compiled.args(params)
            cursor = None
            try:
                cursor = fairy.cursor()
                cursor.execute(compiled.sql, args)
                rows = cursor.fetchmany(1) if one else cursor.fetchall()
                cursor.close()
            except dbapi_error as err:
                raise _driver_error(engine, fairy, cursor, err, compiled.sql, args) from err
        except BaseException as err:
            if fairy.is_valid and not isinstance(err, DBAPIError):
                fairy.invalidate()  # interrupted mid-protocol: never back to the pool as it is
            raise
        finally:
            fairy.close()
        row, values = self.row, compiled.values
        return [row(*values(each)) for each in rows]


class _Compiled:
    """A statement's SQL for one dialect, and the conversions its types declare there."""

    def __init__(self, statement: Select | Insert, dialect: Dialect, column_keys: list[str] | None = None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = compiled.string
        self.positions = compiled.positiontup if compiled.positional else None
        self.binds = {
            name: process
            for name, bind in compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        selected = list(statement.selected_columns) if isinstance(statement, Select) else []
        types = [column.type.dialect_impl(dialect) for column in selected]
        self.results = [each.result_processor(dialect, None) for each in types]

    def args(self, params: Mapping[str, Any]) -> Any:
        values = {
            name: self.binds[name](value) if name in self.binds else value for name, value in params.items()
        }
        return values if self.positions is None else tuple(values[name] for name in self.positions)

    def values(self, row: Sequence[Any]) -> list[Any]:
        return [
            value if process is None else process(value)
            for process, value in zip(self.results, row, strict=True)
        ]


def _driver_error(
    engine: Engine,
    fairy: Any,
    cursor: Any,
    err: Any,
    sql: str | None,
    args: Any,
    conn: Connection | None = None,
) -> DBAPIError:
    """The driver's error as SQLAlchemy's own handling leaves it: a connection lost by a
    statement invalidates the pool (the retry connects anew) and ``conn``, a session's
    connection (its transaction must be rolled back), and counts toward the breaker (a
    failed connect counts in ``GuardedPool.connect``)."""
    dialect = engine.dialect
    lost = dialect.is_disconnect(err, None if fairy is None else fairy.dbapi_connection, cursor)
    if lost and fairy is not None:
        guard: Breaker | None = getattr(engine.pool, "breaker", None)
        if guard is not None:
            guard.lost(_connected_at(fairy))
        engine.pool._invalidate(fairy, err)  # what a Connection does on a disconnect
        if conn is not None:
            conn.invalidate(err)
    wrapped = DBAPIError.instance(
        sql, args, err, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )
    return cast(DBAPIError, wrapped)


class _NoContext:
    """What a column default gets for SQLAlchemy's execution context: ``RowInsert`` has none."""

    def __getattr__(self, name: str) -> Any:
        raise TypeError("a column default that reads the execution context needs Session.execute")


NO_CONTEXT = _NoContext()


class RowInsert:
    """One row into ``table`` in the session's transaction, sent on its DB-API cursor.

    SQLAlchemy still begins and commits the transaction (the session's connection, breaker
    slot, events), fills the columns' Python-side defaults (scalar or callable, as
    ``last_inserted_params()`` shows them), converts values with the types' bind processors
    and wraps driver errors (``IntegrityError`` for a taken key; a lost connection is
    invalidated and the transaction retried whole). Skipped: ``Session.execute`` and the
    Connection's per-statement machinery, about 125 us of a POST's two INSERTs (bench/README.md).
    Under ``SQLALCHEMY_ECHO`` the statement goes through SQLAlchemy, which logs it."""

    def __init__(self, table: Table):
        self.statement = insert(table)
        self.defaults = {}
        for column in table.columns:
            default = column.default
            if default is None:
                continue
            if not (default.is_scalar or default.is_callable):
                raise TypeError(f"{table.name}.{column.key}: only Python-side defaults are filled here")
            self.defaults[column.key] = default
        self._compiled: weakref.WeakKeyDictionary[Dialect, dict[frozenset[str], _Compiled]] = (
            weakref.WeakKeyDictionary()
        )

    def values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with the defaults of the columns they leave out."""
        values = dict(params)
        for key, default in self.defaults.items():
            if key not in values:
                values[key] = default.arg(NO_CONTEXT) if default.is_callable else default.arg  # type: ignore[attr-defined]
        return values

    def run(self, session: Session | scoped_session, params: Mapping[str, Any]) -> dict[str, Any]:
        """Insert the row in ``session``'s transaction; returns its values as sent, defaults included."""
        session.flush()  # what Session.execute's autoflush sends first (ORM changes, in order)
        conn = session.connection()
        engine = conn.engine
        if engine.echo:
            values = self.values(params)
            conn.execute(self.statement, values)
            return values
        return self.send(engine, conn.connection, params, conn)

    def send(
        self, engine: Engine, fairy: Any, params: Mapping[str, Any], conn: Connection | None = None
    ) -> dict[str, Any]:
        """Insert the row on ``fairy``, a pooled DB-API connection of ``engine`` (``conn``: the
        session's Connection holding it); returns its values as sent, defaults included."""
        values = self.values(params)
        by_keys = self._compiled.get(engine.dialect)
        if by_keys is None:
            by_keys = self._compiled[engine.dialect] = {}
        keys = frozenset(values)
        compiled = by_keys.get(keys)
        if compiled is None:
            compiled = by_keys[keys] = _Compiled(self.statement, engine.dialect, sorted(keys))
        _send(engine, fairy, compiled.sql, compiled.args(values), conn)
        return values
