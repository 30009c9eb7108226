"""open flags partial index

officer_flag gets an index of its open flags only (organ_id WHERE cleared_at IS NULL). A
leader's every staff page counts the open flags of their subtree for the nav's badge; with
the (organ_id, cleared_at) index PostgreSQL read the whole table instead (1.3 ms at 100k
cases, on every page), and with this one it reads the open flags' entries alone (0.3 ms).

Revision ID: a7c3e91f02b4
Revises: c511afa91d07
Create Date: 2026-11-26 13:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e91f02b4'
down_revision = 'c511afa91d07'
branch_labels = None
depends_on = None

OPEN = "cleared_at IS NULL"


def upgrade():
    op.create_index("ix_officer_flag_open", "officer_flag", ["organ_id"],
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade():
    op.drop_index("ix_officer_flag_open", table_name="officer_flag")
