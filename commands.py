"""CLI commands (``flask --app run ...``): ``outbox relay``, ``outbox status``, ``outbox purge``,
``idempotency purge``."""

from __future__ import annotations

import logging
import os
import signal
import time
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from core.errors import DomainError
from extensions import amqp, db, metrics
from services import idempotency_keys, outbox

log = logging.getLogger(__name__)

outbox_cli = AppGroup("outbox", help="The outbox of Wdtest events and its relay to RabbitMQ.")
idempotency_cli = AppGroup("idempotency", help="The Idempotency-Key rows written with each keyed write.")

# Seconds between attempts while the broker or database is down. Capped low so events
# flow again within about a second of the broker's return; one connection attempt a
# second per relay is no load for a broker, and the warning is logged once a minute.
BACKOFF_MAX = 1.0
WARN_INTERVAL = 60.0


def register_commands(app: Flask) -> None:
    app.cli.add_command(outbox_cli)
    app.cli.add_command(idempotency_cli)


class _Stop:
    """Set by SIGTERM/SIGINT, or when the parent process (``make serve``'s shell) is gone."""

    def __init__(self, watch_parent: bool):
        self.requested = False
        self.parent = os.getppid() if watch_parent else None
        self.previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, _frame) -> None:
        log.info("outbox relay: %s received; stopping after the current batch", signal.Signals(signum).name)
        self.requested = True

    def __bool__(self) -> bool:
        return self.requested or (self.parent is not None and os.getppid() != self.parent)


@outbox_cli.command("relay")
@click.option("--once", is_flag=True, help="Relay every pending event, then exit (status 1 if that failed).")
@click.option(
    "--batch-size", type=click.IntRange(1, 1000), help="Events per transaction [OUTBOX_BATCH_SIZE]."
)
@click.option(
    "--interval",
    type=click.FloatRange(0.01, 60),
    help="Seconds between polls when idle [OUTBOX_POLL_INTERVAL].",
)
@click.option("--exit-with-parent", is_flag=True, help="Stop when the parent process exits.")
def relay_command(once: bool, batch_size: int | None, interval: float | None, exit_with_parent: bool) -> None:
    """Publish pending events to the exchange with confirms, oldest first; at-least-once."""
    interval = interval or current_app.config["OUTBOX_POLL_INTERVAL"]
    exchange = current_app.config["WDTEST_EVENTS_EXCHANGE"]
    stop = _Stop(watch_parent=exit_with_parent)
    log.info("outbox relay started (exchange %r, pid %d)", exchange, os.getpid())
    backoff = min(interval, BACKOFF_MAX)
    total = 0
    failing_since = warned_at = None
    try:
        while not stop:
            try:
                sent = outbox.relay(limit=batch_size)
            except Exception as err:
                db.session.rollback()
                metrics.RELAY_FAILED.inc()
                expected = isinstance(err, DomainError | SQLAlchemyError)
                if once:
                    if not expected:
                        raise
                    raise click.ClickException(f"relayed {total} events, then: {err}") from None
                now = time.monotonic()
                failing_since = failing_since or now
                if not expected:
                    # Nothing supervises the relay beside gunicorn: it must outlive any error.
                    log.exception("outbox relay: unexpected error; retrying in %.1f s", backoff)
                elif warned_at is None or now - warned_at >= WARN_INTERVAL:
                    warned_at = now
                    log.warning(
                        "outbox relay: %s; failing for %.0f s, retrying every %.1f s",
                        err,
                        now - failing_since,
                        BACKOFF_MAX,
                    )
                amqp.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            if failing_since is not None:
                log.info("outbox relay: recovered after %.1f s", time.monotonic() - failing_since)
                failing_since = warned_at = None
            backoff = min(interval, BACKOFF_MAX)
            total += sent
            metrics.RELAY_PUBLISHED.inc(sent)
            if sent:
                log.info("outbox relay: published %d events", sent)
            elif once:
                break
            else:
                amqp.sleep(interval)
    finally:
        stop.restore()
        amqp.close()
        db.session.remove()
    click.echo(f"relayed {total} events")


@outbox_cli.command("status")
def status_command() -> None:
    """Print how many events wait to be relayed."""
    click.echo(f"pending {outbox.get_pending_count()}")


@outbox_cli.command("purge")
@click.option(
    "--days", type=click.IntRange(0), default=7, show_default=True, help="Keep sent events this long."
)
def purge_command(days: int) -> None:
    """Delete events sent more than --days ago."""
    click.echo(f"deleted {outbox.delete_sent(older_than=timedelta(days=days))} sent events")


@idempotency_cli.command("purge")
def idempotency_purge_command() -> None:
    """Delete keys older than IDEMPOTENCY_TTL (a retry after that runs as a new request)."""
    click.echo(f"deleted {idempotency_keys.delete_expired()} expired keys")
