"""Floods get 429 Too Many Requests: a look-up flood on /track (the access-code lockout,
with Retry-After), and a flood of complaints or recusal applications from one client (the
submission limit, counted in the database across workers), which files fewer cases than
were sent."""

from __future__ import annotations

import sqlalchemy as sa
from helpers import make_complaint
from hostile_helpers import complaint_form, post_form, recusal_form

from oversight.extensions import db
from oversight.models import Complaint, Recusal

FLOOD = 40


def count(model) -> int:
    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count(model.id))).scalar_one()


def test_a_lookup_flood_gets_429(app, demo):
    case, _code = make_complaint()
    client = app.test_client()
    statuses = [client.post("/track", data={"number": case.number,
                                            "code": f"WRNG-{i:04d}-XXXX-YYYY"}).status_code
                for i in range(app.config["TRACK_MAX_FAILURES"] + 5)]
    assert statuses[-1] == 429, statuses
    assert "Retry-After" in client.post("/track", data={"number": case.number,
                                                        "code": "X"}).headers


def test_a_complaint_flood_gets_429(app, demo):
    client = app.test_client()
    statuses = [post_form(client, "/complaints/new",
                          complaint_form(narrative=f"第{i}次：2026年11月20日晚在三里屯路口，辅警辱骂群众。"))
                .status_code for i in range(FLOOD)]
    assert 429 in statuses, statuses
    assert count(Complaint) < FLOOD


def test_a_recusal_flood_gets_429(app, demo):
    client = app.test_client()
    statuses = [post_form(client, "/recusals/new",
                          recusal_form(matter_ref=f"京公朝（三）受案字〔2026〕{i}号")).status_code
                for i in range(FLOOD)]
    assert 429 in statuses, statuses
    assert count(Recusal) < FLOOD
