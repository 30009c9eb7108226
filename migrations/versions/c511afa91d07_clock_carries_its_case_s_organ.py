"""clock carries its case's organ

case_clock gets organ_id, its case's organ, copied when the clock starts (a case's organ
never changes once it is opened: a transfer opens a new case). The deadlines list asked
each running clock's case for its organ, one lookup per clock: at 1M cases the count of a
city bureau's list visited 22,000 cases (0.4 s). With the organ on the clock and the index
(outcome, organ_id, paused_at, due_at), a subtree's running, unpaused clocks due by a date
are read from the index alone.

The existing clocks are filled in from their cases, table by table; then the column
becomes NOT NULL (on SQLite by copying the table, which batch mode does).

Revision ID: c511afa91d07
Revises: f5a086444e81
Create Date: 2026-11-26 04:31:18.835648

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c511afa91d07'
down_revision = 'f5a086444e81'
branch_labels = None
depends_on = None

#: case type (case_clock.case_type) -> the table of its cases, as at this revision
CASE_TABLES = {"appeal": "appeal", "complaint": "complaint",
               "discipline": "discipline_decision", "investigation": "investigation",
               "recovery": "recovery", "recusal": "recusal", "suspension": "suspension"}


def upgrade():
    op.add_column('case_clock', sa.Column('organ_id', sa.Integer(), nullable=True))
    for case_type, table in CASE_TABLES.items():
        op.execute(sa.text(
            f"UPDATE case_clock SET organ_id = (SELECT {table}.organ_id FROM {table} "
            f"WHERE {table}.id = case_clock.case_id) WHERE case_type = :case_type"
        ).bindparams(case_type=case_type))
    # a clock of an unknown case type, or of a missing case, stops the migration here
    with op.batch_alter_table('case_clock', schema=None) as batch_op:
        batch_op.alter_column('organ_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index('ix_case_clock_organ_running',
                              ['outcome', 'organ_id', 'paused_at', 'due_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_case_clock_organ_id_organ'), 'organ',
                                    ['organ_id'], ['id'])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ANALYZE case_clock")


def downgrade():
    with op.batch_alter_table('case_clock', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_case_clock_organ_id_organ'), type_='foreignkey')
        batch_op.drop_index('ix_case_clock_organ_running')
        batch_op.drop_column('organ_id')
