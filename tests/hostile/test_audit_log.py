"""The event log (case_event) is append-only: the ORM and the database itself refuse to
update or delete a row, and a row changed by someone who lifted that protection is
reported by ``oversight verify-log``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import append_only_lifted, make_complaint
from investigation_helpers import events_of, fire

from oversight.cli import build_cli
from oversight.extensions import db


@pytest.fixture
def logged(demo):
    case, _code = make_complaint()
    fire(case, "accept", "intake")
    fire(case, "add_note", "inspector", {"note": "询问笔录一份"})
    return case


def test_the_orm_refuses_to_update_an_event(logged):
    event = events_of(logged)[0]
    event.reason = "篡改"
    with pytest.raises(Exception, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert events_of(logged)[0].reason != "篡改"


def test_the_orm_refuses_to_delete_an_event(logged):
    count = len(events_of(logged))
    db.session.delete(events_of(logged)[0])
    with pytest.raises(Exception, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert len(events_of(logged)) == count


def verify(app):
    db.session.remove()
    result = app.test_cli_runner().invoke(build_cli(), ["verify-log"])
    # End the command's read transaction: on PostgreSQL it would hold the lock that
    # lifting the trigger (DROP TRIGGER) waits for.
    db.session.remove()
    return result


@pytest.mark.parametrize("tamper", [
    "UPDATE case_event SET reason = 'forged' WHERE seq = 2",
    "UPDATE case_event SET actor_id = NULL WHERE seq = 3",
    "UPDATE case_event SET payload = '{}' WHERE seq = 1",
    "DELETE FROM case_event WHERE seq = 2",
], ids=["reason", "actor", "payload", "deleted-row"])
def test_verify_log_reports_a_tampered_event(app, logged, tamper):
    """Someone with the rights to lift the table's protection edits it directly."""
    case_id = logged.id
    assert verify(app).exit_code == 0
    with db.engine.begin() as conn, append_only_lifted(conn):
        conn.execute(sa.text(tamper + " AND case_id = :id AND case_type = 'complaint'"),
                     {"id": case_id})
    result = verify(app)
    assert result.exit_code == 1
    assert f"BROKEN complaint#{case_id}" in result.output


@pytest.mark.parametrize("statement", [
    "UPDATE case_event SET reason = 'forged' WHERE case_id = :id",
    "DELETE FROM case_event WHERE case_id = :id",
], ids=["update", "delete"])
def test_the_database_refuses_to_change_an_event(logged, statement):
    before = [(e.id, e.reason, e.hash) for e in events_of(logged)]
    case_id = logged.id
    db.session.remove()
    with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as conn:
        conn.execute(sa.text(statement), {"id": case_id})
    db.session.remove()
    assert [(e.id, e.reason, e.hash) for e in events_of(logged)] == before
