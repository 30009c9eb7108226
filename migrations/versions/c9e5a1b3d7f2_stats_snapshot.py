"""statistics snapshots shared by the workers

A table of computed statistics (the staff dashboard per scope, the public transparency
figures), so that a city bureau's figures are computed once for every worker and kept
across restarts, and can be computed ahead of the request (``oversight refresh-stats``).
A cache, not a record: dropping its rows loses nothing.

Revision ID: c9e5a1b3d7f2
Revises: b8d4f0a2c6e1
Create Date: 2026-11-26 15:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import oversight.models.base


# revision identifiers, used by Alembic.
revision = 'c9e5a1b3d7f2'
down_revision = 'b8d4f0a2c6e1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stats_snapshot',
        sa.Column('key', sa.String(length=500), nullable=False),
        sa.Column('format', sa.Integer(), nullable=False),
        sa.Column('computed_at', oversight.models.base.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column('read_at', oversight.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('figures', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_stats_snapshot')),
    )
    with op.batch_alter_table('stats_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stats_snapshot_read_at'), ['read_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('stats_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stats_snapshot_read_at'))
    op.drop_table('stats_snapshot')
