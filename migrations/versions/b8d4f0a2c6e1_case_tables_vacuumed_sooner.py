"""case tables vacuumed sooner (PostgreSQL)

The case tables and case_clock get autovacuum storage parameters on PostgreSQL (see
models.base.CASE_TABLE_STORAGE): a vacuum after 2% new rows and 5% changed ones, so the
visibility map stays current and the queue's, badges' and deadlines' counts are answered
from their indexes alone. SQLite has no such parameters: nothing changes there.

Revision ID: b8d4f0a2c6e1
Revises: a7c3e91f02b4
Create Date: 2026-11-26 13:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b8d4f0a2c6e1'
down_revision = 'a7c3e91f02b4'
branch_labels = None
depends_on = None

#: as at this revision
TABLES = ("appeal", "complaint", "discipline_decision", "investigation", "recovery",
          "recusal", "suspension", "case_clock")
SETTINGS = {"autovacuum_vacuum_insert_scale_factor": "0.02",
            "autovacuum_vacuum_scale_factor": "0.05"}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    settings = ", ".join(f"{k} = {v}" for k, v in SETTINGS.items())
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({settings})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({', '.join(SETTINGS)})")
