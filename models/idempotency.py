"""Idempotency keys (table ``idempotency_keys``): written in the transaction of the write they
name, so a retry can always tell whether its first attempt committed."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model
from models.types import UTCDateTime, utcnow

KEY_MAX_LENGTH = 255
CALLER_LENGTH = 32


class IdempotencyKey(Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = ({"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"},)

    # Keys are per caller (a hash of the API key): one client cannot replay another's writes.
    caller: Mapped[str] = mapped_column(String(CALLER_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The write's result as JSON (the record as committed; "null" for a delete).
    result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<IdempotencyKey {self.caller}:{self.key}>"
