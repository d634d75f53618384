"""Service functions behind the ``exceptions`` demo namespace."""

from __future__ import annotations

import math

from core.errors import DomainError, InvalidInput


class DivisionByZero(InvalidInput):
    """``3/0``: a request the client can fix, so a 400 (not 413)."""


class QuotaExceeded(DomainError):
    """The project's own demo error: a status, a title and extra problem members."""

    status = 429
    title = "Quota Exceeded"

    def __init__(self, detail: str, *, limit: int, used: int):
        super().__init__(detail, limit=limit, used=used)


def divide(*, a: float, b: float) -> float:
    """``a / b``; raises ``DivisionByZero`` for ``b == 0`` and ``InvalidInput`` on overflow."""
    try:
        result = a / b
    except ZeroDivisionError:
        raise DivisionByZero("Cannot divide by zero: b must not be 0.", {"b": ["Must not be 0."]}) from None
    if not math.isfinite(result):
        raise InvalidInput("The quotient is too large to represent.", {"_schema": ["Result overflows."]})
    return result


def use_quota(*, limit: int = 100, used: int = 100) -> None:
    """Spend one unit of a quota; raises ``QuotaExceeded`` (always, in this demo)."""
    if used >= limit:
        raise QuotaExceeded(f"The demo quota of {limit} calls is used up.", limit=limit, used=used)
