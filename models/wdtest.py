"""The Wdtest record (table ``wdtest``)."""

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model
from models.types import UTCDateTime, utcnow

ID_MAX_LENGTH = 100
NAME_MAX_LENGTH = 20
AGE_MIN, AGE_MAX = 0, 150


def new_id() -> str:
    return str(uuid.uuid4())


class Wdtest(Model):
    __tablename__ = "wdtest"
    # Binary collation: ids and names compare case-sensitively on MySQL as on SQLite.
    # The list's filters order by id within a name or an age (migration 0004).
    __table_args__ = (
        Index("ix_wdtest_age_id", "age", "id"),
        Index("ix_wdtest_name_id", "name", "id"),
        {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"},
    )

    id: Mapped[str] = mapped_column(String(ID_MAX_LENGTH), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    age: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # 1 on insert, +1 on every UPDATE (SQLAlchemy adds it and checks it in the WHERE clause).
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Wdtest {self.id!r} {self.name!r} v{self.version}>"
