"""SQLAlchemy models."""

from models.idempotency import IdempotencyKey
from models.outbox import OutboxEvent
from models.wdtest import Wdtest

__all__ = ["IdempotencyKey", "OutboxEvent", "Wdtest"]
