"""The declarative base of every model: ``db.Model``, spelled so a type checker can follow it."""

from typing import TYPE_CHECKING

from extensions import db

if TYPE_CHECKING:
    from sqlalchemy.orm import DeclarativeBase

    class Model(DeclarativeBase):
        """What ``db.Model`` is at run time, as far as mypy needs to know."""

else:
    Model = db.Model
