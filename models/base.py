"""The declarative base of every model: ``db.Model``, spelled so a type checker can follow it."""

from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect

from extensions import db

if TYPE_CHECKING:
    from sqlalchemy.orm import DeclarativeBase

    class Model(DeclarativeBase):
        """What ``db.Model`` is at run time, as far as mypy needs to know."""

else:
    Model = db.Model


def column_values(obj: Any) -> dict[str, Any]:
    """A mapped object's column values as a plain dict: still readable after the commit,
    and after another request deleted the row (responses and events are built from it)."""
    return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}
