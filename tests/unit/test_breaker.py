"""The database breaker's connection slots (extensions.database.Breaker), on real threads:
a thread that finds every slot held waits while the database is well, and gives up at once
once the database is known to be failing."""

import threading
import time

import pytest

from extensions.database import CLOSED, OPEN, STUCK_CHECKOUT, Breaker, CircuitOpen


def breaker(**overrides) -> Breaker:
    options = {"threshold": 2, "reset_after": 30.0, "fail_fast": 1.0, "slots": 1, "pool_timeout": 5.0}
    return Breaker(**(options | overrides))


def release_later(guard: Breaker, slot: object, seconds: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), guard.release(slot)))
    thread.start()
    return thread


def test_a_waiter_waits_for_a_slot_while_the_database_is_well():
    guard = breaker()
    slot = guard.admit()  # connecting, slowly: past STUCK_CHECKOUT but no failure seen
    thread = release_later(guard, slot, STUCK_CHECKOUT * 2)
    started = time.monotonic()
    second = guard.admit()
    waited = time.monotonic() - started
    thread.join()
    assert second is not None and waited >= STUCK_CHECKOUT * 1.5
    assert guard.in_use() == 1 and guard.state == CLOSED


def test_a_waiter_gives_up_at_the_pool_timeout():
    guard = breaker(pool_timeout=0.2, fail_fast=10.0)
    slot = guard.admit()
    guard.checked_out(slot)  # held, not stuck: the database is busy, not down
    with pytest.raises(CircuitOpen, match="saturated"):
        guard.admit()


def test_after_a_failure_a_stuck_checkout_makes_others_fail_fast():
    guard = breaker()
    guard.failed()  # one connection failure: below the threshold, the circuit stays closed
    guard.admit()  # and this checkout hangs
    time.sleep(STUCK_CHECKOUT * 1.2)
    started = time.monotonic()
    with pytest.raises(CircuitOpen, match="stuck"):
        guard.admit()
    assert time.monotonic() - started < STUCK_CHECKOUT
    assert guard.state == CLOSED


def test_a_checkout_stuck_past_its_own_timeouts_is_a_failing_database():
    guard = breaker(fail_fast=0.1, stuck_after=0.4)
    guard.admit()
    started = time.monotonic()
    with pytest.raises(CircuitOpen, match="stuck"):
        guard.admit()
    # Not at fail_fast: a slow but well checkout (a ping, then a reconnect) is no failure.
    assert 0.4 <= time.monotonic() - started < 2


def test_an_open_circuit_refuses_waiters_and_a_success_closes_it():
    guard = breaker()
    slot = guard.admit()
    threading.Timer(0.1, lambda: (guard.failed(), guard.failed())).start()
    with pytest.raises(CircuitOpen, match="open"):
        guard.admit()
    assert guard.state == OPEN and guard.retry_after() > 0
    guard.release(slot)
    guard.succeeded()
    assert guard.state == CLOSED and not guard.suspect and guard.admit() is not None
