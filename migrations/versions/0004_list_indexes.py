"""indexes for the list filters: age, and (age, id) / (name, id) orders

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # The list orders by id within a filter: with id in the index, "age = 3 ORDER BY id
    # LIMIT 21" reads 21 index entries at any table size (InnoDB adds the primary key to
    # every secondary index itself; SQLite needs it spelled out).
    op.create_index("ix_wdtest_age_id", "wdtest", ["age", "id"], unique=False)
    op.create_index("ix_wdtest_name_id", "wdtest", ["name", "id"], unique=False)
    op.drop_index("ix_wdtest_name", table_name="wdtest")  # a prefix of ix_wdtest_name_id


def downgrade():
    op.create_index("ix_wdtest_name", "wdtest", ["name"], unique=False)
    op.drop_index("ix_wdtest_name_id", table_name="wdtest")
    op.drop_index("ix_wdtest_age_id", table_name="wdtest")
