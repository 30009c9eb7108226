"""Mass assignment: columns a form does not offer (organ, state, version, number, links)
injected into public and staff forms are ignored; only the transition moves the state and
the version advances by exactly one."""

from __future__ import annotations

import sqlalchemy as sa
from helpers import login, make_complaint, organ
from hostile_helpers import complaint_form, post_form, receipt_number, recusal_form, snapshot
from webhelpers import refreshed

from oversight.extensions import db
from oversight.models import Complaint, Recusal
from workflows.complaint import ComplaintState
from workflows.recusal import RecusalState


def injected(prefix: str = "") -> dict:
    """Column names a form does not offer, with hostile values."""
    other = organ("BJ-HD").id
    fields = {"state": "closed", "version": "99", "id": "4242", "number": "TS2020000001",
              "organ_id": str(other), "access_code_hash": "sha256$x$y", "officer_id": "2",
              "investigation_id": "1", "merged_into_id": "1", "finding": "unfounded",
              "review_deadline_at": "2099-01-01T00:00", "created_at": "2000-01-01T00:00",
              "anonymous_token": "x", "public": "1"}
    return {f"{prefix}{k}": v for k, v in fields.items()}


def load(model, number: str):
    db.session.rollback()
    return db.session.execute(sa.select(model).where(model.number == number)).scalar_one()


def test_public_complaint_form_ignores_injected_columns(app, demo):
    data = injected() | complaint_form()  # the form's own organ_id wins: it is a real field
    response = post_form(app.test_client(), "/complaints/new", data)
    complaint = load(Complaint, receipt_number(response))
    assert complaint.state is ComplaintState.SUBMITTED
    assert complaint.version == 1
    assert complaint.organ == organ("BJ-CY")
    assert complaint.number != "TS2020000001" and complaint.id != 4242
    assert complaint.merged_into_id is None and complaint.investigation_id is None
    assert complaint.finding is None


def test_public_recusal_form_ignores_injected_columns(app, demo):
    data = injected() | recusal_form()
    response = post_form(app.test_client(), "/recusals/new", data)
    recusal = load(Recusal, receipt_number(response))
    assert recusal.state is RecusalState.FILED
    assert recusal.version == 1
    assert recusal.organ == organ("BJ-CY")
    assert recusal.number != "TS2020000001" and recusal.id != 4242


def test_public_track_action_ignores_injected_columns(app, demo):
    complaint, code = make_complaint()
    client = app.test_client()
    assert client.post("/track", data={"number": complaint.number, "code": code}) \
        .status_code == 302
    response = client.post("/track/case/withdraw",
                           data={**injected(), **injected("withdraw-"),
                                 "withdraw-reason": "已与对方和解"})
    assert response.status_code == 302
    complaint = refreshed(complaint)
    assert complaint.state is ComplaintState.WITHDRAWN
    assert complaint.version == 2
    assert complaint.organ == organ("BJ-CY")
    assert complaint.finding is None


def test_staff_action_ignores_injected_columns(app, demo):
    complaint, _code = make_complaint()
    client = app.test_client()
    login(client, demo, "intake")
    data = injected() | {"version": str(complaint.version)}
    response = client.post(f"/staff/complaints/{complaint.id}/accept", data=data)
    assert response.status_code == 302
    complaint = refreshed(complaint)
    assert complaint.state is ComplaintState.ACCEPTED
    assert complaint.version == 2
    assert complaint.organ == organ("BJ-CY")
    assert complaint.number != "TS2020000001"
    assert complaint.merged_into_id is None and complaint.finding is None


def test_an_injected_version_is_never_stored(app, demo):
    """The version field is the optimistic lock: a forged one is refused, never written."""
    complaint, _code = make_complaint()
    before = snapshot(complaint)
    client = app.test_client()
    login(client, demo, "intake")
    client.post(f"/staff/complaints/{complaint.id}/accept", data={"version": "99"})
    assert snapshot(complaint) == before
