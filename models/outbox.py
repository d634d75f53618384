"""The transactional outbox (table ``outbox``): events written with the record, relayed later."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model
from models.types import UTCDateTime, utcnow
from models.wdtest import ID_MAX_LENGTH

EVENT_TYPE_MAX_LENGTH = 100
LAST_ERROR_MAX_LENGTH = 500


class OutboxEvent(Model):
    __tablename__ = "outbox"
    __table_args__ = (
        # The relay's query: unsent rows in id order.
        Index("ix_outbox_pending", "sent_at", "id"),
        # The relay's per-record check: is an older event of this record unsent?
        Index("ix_outbox_record", "record_id", "id"),
        UniqueConstraint("event_id", name="uq_outbox_event_id"),
        {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"},
    )

    # SQLite autoincrements only an INTEGER primary key.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(EVENT_TYPE_MAX_LENGTH))
    # The record the event is about: a record's events are published one at a time, in id order.
    record_id: Mapped[str | None] = mapped_column(String(ID_MAX_LENGTH))
    # The message body, serialized once when the record is written.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_MAX_LENGTH))

    def __repr__(self) -> str:
        return f"<OutboxEvent {self.id} {self.event_type} sent={self.sent_at is not None}>"
