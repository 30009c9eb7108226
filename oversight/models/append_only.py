"""Append-only tables enforced by the database itself, not only by the ORM: a trigger
refuses any UPDATE or DELETE of an event or a notice, whoever connects. ``create_all``
(tests) and the Alembic migration (deployments) both install them from here.

Someone with the rights to drop a trigger can still tamper; the hash chain
(``oversight verify-log``) is what catches that.
"""

from __future__ import annotations

import sqlalchemy as sa

APPEND_ONLY_TABLES = ("case_event", "notice")
PG_FUNCTION = "oversight_append_only"


def install_statements(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
            # No '%' here: drivers read it as a parameter marker.
            f"$$ BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; "
            f"END $$",
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()",
        ]
    return []


def remove_statements(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_{verb}" for verb in ("update", "delete")]
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"]
    return []


def attach(table: sa.Table) -> None:
    """Install the triggers whenever ``create_all`` creates ``table``."""

    @sa.event.listens_for(table, "after_create")
    def _install(target, connection, **_kw):
        for statement in install_statements(connection.dialect.name, target.name):
            connection.exec_driver_sql(statement)
