"""SQLAlchemy models."""

from models.wdtest import Wdtest

__all__ = ["Wdtest"]
