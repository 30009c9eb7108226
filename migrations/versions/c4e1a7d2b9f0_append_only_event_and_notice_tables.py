"""append-only event and notice tables, enforced by database triggers

Revision ID: c4e1a7d2b9f0
Revises: bb8e14f4cfd0
Create Date: 2026-11-25 20:10:00

"""
from alembic import op

from oversight.models.append_only import (
    APPEND_ONLY_TABLES,
    install_statements,
    remove_statements,
)

# revision identifiers, used by Alembic.
revision = 'c4e1a7d2b9f0'
down_revision = 'bb8e14f4cfd0'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    for table in APPEND_ONLY_TABLES:
        for statement in install_statements(bind.dialect.name, table):
            bind.exec_driver_sql(statement)


def downgrade():
    bind = op.get_bind()
    for table in APPEND_ONLY_TABLES:
        for statement in remove_statements(bind.dialect.name, table):
            bind.exec_driver_sql(statement)
