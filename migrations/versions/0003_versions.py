"""record versions; outbox events keyed by record

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("wdtest") as batch:
        # Existing rows start at version 1.
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("record_id", sa.String(length=100), nullable=True))
    op.create_index("ix_outbox_record", "outbox", ["record_id", "id"], unique=False)
    # Unsent events written before this revision: their record id is in the payload.
    outbox = sa.table("outbox", sa.column("id"), sa.column("payload"), sa.column("record_id"))
    conn = op.get_bind()
    pending = conn.execute(sa.text("SELECT id, payload FROM outbox WHERE sent_at IS NULL")).all()
    for row_id, payload in pending:
        record_id = (json.loads(payload).get("data") or {}).get("id")
        conn.execute(outbox.update().where(outbox.c.id == row_id).values(record_id=record_id))


def downgrade():
    op.drop_index("ix_outbox_record", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("record_id")
    with op.batch_alter_table("wdtest") as batch:
        batch.drop_column("version")
