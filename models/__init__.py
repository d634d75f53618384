"""SQLAlchemy models."""

from models.outbox import OutboxEvent
from models.wdtest import Wdtest

__all__ = ["OutboxEvent", "Wdtest"]
