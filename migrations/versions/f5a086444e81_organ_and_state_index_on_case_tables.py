"""organ and state index on case tables

Every case table's single-column organ_id index becomes an (organ_id, state) index: queues,
to-do counts and statistics ask for a subtree's cases in given states, and the composite
index answers both that and lookups by organ alone (see models.base.organ_state_index).
case_event's (case_type, case_id) index is dropped: its unique (case_type, case_id, seq)
serves the same lookups, and one index fewer is one write fewer per event.

Revision ID: f5a086444e81
Revises: d5bf6875ad8e
Create Date: 2026-11-26 01:31:03.147651

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f5a086444e81'
down_revision = 'd5bf6875ad8e'
branch_labels = None
depends_on = None

CASE_TABLES = ("appeal", "complaint", "discipline_decision", "investigation", "recovery",
               "recusal", "suspension")


def upgrade():
    for table in CASE_TABLES:
        op.create_index(f"ix_{table}_organ_state", table, ["organ_id", "state"])
        op.drop_index(f"ix_{table}_organ_id", table_name=table)
    op.drop_index("ix_case_event_case", table_name="case_event")


def downgrade():
    op.create_index("ix_case_event_case", "case_event", ["case_type", "case_id"])
    for table in CASE_TABLES:
        op.create_index(f"ix_{table}_organ_id", table, ["organ_id"])
        op.drop_index(f"ix_{table}_organ_state", table_name=table)
