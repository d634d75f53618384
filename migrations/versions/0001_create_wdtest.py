"""create wdtest

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from models.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "wdtest",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        # 4-byte UTF-8 for emoji; binary collation so comparisons are case-sensitive.
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_index("ix_wdtest_name", "wdtest", ["name"], unique=False)


def downgrade():
    op.drop_index("ix_wdtest_name", table_name="wdtest")
    op.drop_table("wdtest")
