"""organ and state index on case tables

Every case table's single-column organ_id index becomes an (organ_id, state, created_at)
index: queues, to-do counts and statistics ask for a subtree's cases in given states, and
a queue page sorts their dates from the index alone; lookups by organ alone use it too.
Each case table also gets a created_at index, which a wide scope's queue walks newest (or
oldest) first (see models.base.case_table_indexes).
officer_flag's organ_id index becomes (organ_id, cleared_at), for the open flags every staff
page counts. case_event's (case_type, case_id) index is dropped: its unique (case_type, case_id, seq)
serves the same lookups; it gets (case_type, trigger, case_id, at) instead, with which
statistics find each complaint's first outcome notice.

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
        op.create_index(f"ix_{table}_organ_state_created", table,
                        ["organ_id", "state", "created_at"])
        op.create_index(f"ix_{table}_created_at", table, ["created_at"])
        op.drop_index(f"ix_{table}_organ_id", table_name=table)
    op.drop_index("ix_case_event_case", table_name="case_event")
    # statistics find events by what happened (e.g. each complaint's first outcome notice)
    op.create_index("ix_case_event_type_trigger", "case_event",
                    ["case_type", "trigger", "case_id", "at"])
    # every staff page counts the open flags of the user's subtree (the nav)
    op.create_index("ix_officer_flag_organ_open", "officer_flag", ["organ_id", "cleared_at"])
    op.drop_index("ix_officer_flag_organ_id", table_name="officer_flag")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's planner chooses between these indexes from the statistics ANALYZE
        # keeps; PostgreSQL's autovacuum gathers its own.
        for table in (*CASE_TABLES, "officer_flag", "case_event"):
            op.execute(f"ANALYZE {table}")


def downgrade():
    op.drop_index("ix_case_event_type_trigger", table_name="case_event")
    op.create_index("ix_officer_flag_organ_id", "officer_flag", ["organ_id"])
    op.drop_index("ix_officer_flag_organ_open", table_name="officer_flag")
    op.create_index("ix_case_event_case", "case_event", ["case_type", "case_id"])
    for table in CASE_TABLES:
        op.create_index(f"ix_{table}_organ_id", table, ["organ_id"])
        op.drop_index(f"ix_{table}_created_at", table_name=table)
        op.drop_index(f"ix_{table}_organ_state_created", table_name=table)
