"""case counts kept by type, organ and state

A table the writes keep (``oversight.services.counts``): the queue's totals and 待我处理
add up its rows instead of counting cases, so they cost the same at any number of cases.
Filled here from the case tables as they are at this revision; from then on every insert
and state change keeps it. ``oversight counts`` checks it against the case tables.

The case tables are named here, not taken from the app's registry: this revision counts
the tables that exist at this revision, whatever types are added later.

Revision ID: fb4018120ad8
Revises: c9e5a1b3d7f2
Create Date: 2026-11-26 20:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'fb4018120ad8'
down_revision = 'c9e5a1b3d7f2'
branch_labels = None
depends_on = None

#: case type -> its table, at this revision
CASE_TABLES = {
    'appeal': 'appeal',
    'complaint': 'complaint',
    'discipline': 'discipline_decision',
    'investigation': 'investigation',
    'recovery': 'recovery',
    'recusal': 'recusal',
    'suspension': 'suspension',
}


def upgrade():
    op.create_table(
        'case_count',
        sa.Column('case_type', sa.String(length=32), nullable=False),
        sa.Column('organ_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['organ_id'], ['organ.id'],
                                name=op.f('fk_case_count_organ_id_organ')),
        sa.PrimaryKeyConstraint('case_type', 'organ_id', 'state', name=op.f('pk_case_count')),
    )
    for case_type, table in CASE_TABLES.items():
        op.execute(sa.text(
            f"INSERT INTO case_count (case_type, organ_id, state, n) "
            f"SELECT :case_type, organ_id, state, count(*) FROM {table} "
            f"GROUP BY organ_id, state").bindparams(case_type=case_type))


def downgrade():
    op.drop_table('case_count')
