"""Pages of the consequences stage: proposing a measure from the investigation page, the
officer's portal (deadlines counting down, statement and appeal forms), the leader's
approval, opening a recovery and its statement of account; bad input beside the field
with the typing kept; and no complainant data anywhere the officer can look."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from consequence_helpers import LONG_AGO, open_recovery, propose, violation
from helpers import PNG_BYTES, login, make_complaint, user
from investigation_helpers import VIOLATION, fire
from webhelpers import (
    element,
    field_box,
    field_errors,
    flashes,
    isolate_requests,
    refreshed,
    text_of,
    value_of,
)

from oversight.extensions import db
from oversight.models import Attachment, DisciplinaryDecision, Investigation, Notice, Recovery
from oversight.models.base import utcnow
from oversight.services import investigations
from oversight.services.attachments import Upload
from oversight.services.uow import unit_of_work
from workflows.clocks import to_local
from workflows.discipline import DisciplineState


@pytest.fixture
def staff(app, demo):
    isolate_requests(app)
    return demo


def recent():
    return utcnow().replace(microsecond=0) - dt.timedelta(minutes=1)


def test_propose_from_the_investigation_page(client, staff):
    inv = violation()
    login(client, staff, "inspector")
    page = client.get(f"/staff/investigations/{inv.id}").get_data(as_text=True)
    assert element(page, "propose-measure") is not None
    form = client.get(f"/staff/investigations/{inv.id}/propose").get_data(as_text=True)
    assert VIOLATION["facts"] in form  # prefilled from the finding
    # A measure outside Beijing's catalogue: refused beside the field, typing kept.
    bad = client.post(f"/staff/investigations/{inv.id}/propose",
                      data={"measure_code": "pay_deduction", "facts": "我写的事实",
                            "articles": "第二十五条"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert field_errors(field_box(html, "measure_code"))
    assert "我写的事实" in html
    assert db.session.query(DisciplinaryDecision).count() == 0
    ok = client.post(f"/staff/investigations/{inv.id}/propose",
                     data={"measure_code": "demotion", "facts": "辱骂群众", "articles": ""})
    assert ok.status_code == 302 and "/staff/discipline/" in ok.headers["Location"]
    decision = db.session.query(DisciplinaryDecision).one()
    assert decision.state is DisciplineState.PROPOSED
    # The leader is not on the team and does not get the link.
    client.post("/staff/logout")
    login(client, staff, "leader")
    page = client.get(f"/staff/investigations/{inv.id}").get_data(as_text=True)
    assert element(page, "propose-measure") is None and decision.number in page


def test_officer_defends_on_the_portal_and_leader_cannot_make_it_heavier(client, staff):
    decision = propose(violation(), "demotion", now=recent())
    number, case_id = decision.number, decision.id
    login(client, staff, "officer")
    me = client.get("/staff/me").get_data(as_text=True)
    row = element(me, f"decision-{number}")
    assert "拟：降低层级" in text_of(row) and "还剩" in text_of(row)
    assert "拟处理意见告知书" in text_of(element(me, "my-notices"))
    page = client.get(f"/staff/discipline/{case_id}").get_data(as_text=True)
    assert "action-state_defence" in page and "action-approve" not in page
    empty = client.post(f"/staff/discipline/{case_id}/state_defence",
                        data={"version": value_of(page, "version") or "1", "statement": ""})
    assert empty.status_code == 400
    assert field_errors(field_box(empty.get_data(as_text=True), "state_defence-statement"))
    version = str(refreshed(decision).version)
    done = client.post(f"/staff/discipline/{case_id}/state_defence",
                       data={"version": version, "statement": "当时系依法制止，并无辱骂。"})
    assert done.status_code == 302
    client.post("/staff/logout")
    login(client, staff, "leader")
    version = str(refreshed(decision).version)
    heavier = client.post(f"/staff/discipline/{case_id}/approve",
                          data={"version": version, "measure_code": "not_retained",
                                "reason": "加重"}, follow_redirects=True)
    assert any("不得作出重于告知" in f for f in flashes(heavier.get_data(as_text=True)))
    assert refreshed(decision).state is DisciplineState.PROPOSED
    lighter = client.post(f"/staff/discipline/{case_id}/approve",
                          data={"version": version, "measure_code": "criticism",
                                "reason": "从轻"})
    assert lighter.status_code == 302
    assert refreshed(decision).measure_code == "criticism"


def test_officer_appeals_within_the_window_and_late_is_refused(client, staff):
    decision = propose(violation(), "demotion")
    fire(decision, "approve", "leader", {"measure_code": "demotion", "reason": "x"})
    fire(decision, "serve", "inspector")
    login(client, staff, "officer")
    page = client.get(f"/staff/discipline/{decision.id}").get_data(as_text=True)
    assert element(page, "file-appeal") is not None and "还剩" in text_of(
        element(page, "appeal-countdown"))
    blank = client.post(f"/staff/discipline/{decision.id}/appeal", data={"grounds": " "})
    assert blank.status_code == 400
    assert field_errors(field_box(blank.get_data(as_text=True), "grounds"))
    filed = client.post(f"/staff/discipline/{decision.id}/appeal",
                        data={"grounds": "事实认定有误"})
    assert filed.status_code == 302 and "/staff/appeals/" in filed.headers["Location"]
    again = client.get(f"/staff/discipline/{decision.id}/appeal").get_data(as_text=True)
    assert "已提出申诉" in text_of(element(again, "appeal-refusal"))


def test_late_appeal_shows_the_date_it_closed(client, staff):
    then = LONG_AGO - dt.timedelta(days=40)
    decision = propose(violation(now=then), "demotion", now=then)
    fire(decision, "approve", "leader", {"measure_code": "demotion", "reason": "x"},
         now=then + dt.timedelta(days=20))
    fire(decision, "serve", "inspector", now=then + dt.timedelta(days=20))
    login(client, staff, "officer")
    page = client.get(f"/staff/discipline/{decision.id}/appeal").get_data(as_text=True)
    assert re.search(r"申诉期限已于 \d{4}-\d\d-\d\d \d\d:\d\d 届满",
                     text_of(element(page, "appeal-refusal")))
    late = client.post(f"/staff/discipline/{decision.id}/appeal", data={"grounds": "迟到"})
    assert late.status_code == 400 and "届满" in late.get_data(as_text=True)


def test_recovery_form_keeps_typing_and_reports_each_field(client, staff):
    login(client, staff, "inspector")
    assert client.get("/staff/recoveries/new").status_code == 200
    bad = client.post("/staff/recoveries/new", data={
        "officer_badge": "BJ10001", "paid_amount": "12.345", "payee": "张某",
        "paid_on": "2026-10-01", "basis_kind": "state_compensation", "basis_ref": "",
        "linked_number": "", "description": "撞伤行人"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "精确到分" in " ".join(field_errors(field_box(html, "paid_amount")))
    assert field_errors(field_box(html, "basis_ref"))
    assert value_of(html, "paid_amount") == "12.345" and "撞伤行人" in html
    assert db.session.query(Recovery).count() == 0
    ok = client.post("/staff/recoveries/new", data={
        "officer_badge": "BJ10001", "paid_amount": "12345.67", "payee": "张某",
        "paid_on": "2026-10-01", "basis_kind": "state_compensation",
        "basis_ref": "（2026）京01国赔字第12号", "linked_number": "", "description": ""})
    assert ok.status_code == 302
    r = db.session.query(Recovery).one()
    assert r.paid_fen == 1234567
    page = client.get(f"/staff/recoveries/{r.id}").get_data(as_text=True)
    assert "¥12,345.67" in text_of(element(page, "paid"))
    assert "应当追偿" in text_of(element(page, "recovery-basis"))


def test_statement_of_account_and_overdue_flag(client, staff):
    then = LONG_AGO - dt.timedelta(days=30)
    r = open_recovery(paid="1000", now=then)
    fire(r, "find_fault", "inspector", {"fault": "intent", "facts": "x"}, now=then)
    fire(r, "propose_amount", "inspector", {"amount": "1000", "reason": "x"}, now=then)
    fire(r, "order", "leader", {"amount": "1000", "reason": "x"}, now=LONG_AGO)
    day = to_local(LONG_AGO).date().isoformat()
    fire(r, "plan", "inspector", {"instalments": "3", "first_due_on": day}, now=LONG_AGO)
    fire(r, "record_payment", "inspector", {"amount": "100", "paid_on": day}, now=LONG_AGO)
    login(client, staff, "officer")
    statement = client.get(f"/staff/recoveries/{r.id}/statement").get_data(as_text=True)
    assert "¥333.34" in statement and "¥900.00" in text_of(element(statement, "outstanding"))
    assert "逾期" in text_of(element(statement, "schedule"))
    me = client.get("/staff/me").get_data(as_text=True)
    assert "期逾期" in text_of(element(me, f"recovery-{r.number}"))


def test_officer_portal_never_shows_complainant_data(client, staff):
    complaint, _code = make_complaint(files=[Upload("王小明身份证.png", PNG_BYTES)])
    fire(complaint, "accept", "intake")
    with unit_of_work():
        inv = investigations.open_investigation(
            user("inspector"), organ=complaint.organ, subject="辱骂群众",
            complaints=[complaint], lead=user("inspector"), origin="complaint",
            now=LONG_AGO)
    fire(inv, "propose_violation", "inspector", {**VIOLATION, "category_codes": ["other"]},
         now=LONG_AGO)
    fire(inv, "approve_violation", "leader", now=LONG_AGO)
    decision = propose(inv, "demotion")
    fire(decision, "approve", "leader", {"measure_code": "demotion", "reason": "x"})
    fire(decision, "serve", "inspector")
    r = open_recovery()
    login(client, staff, "officer")
    client.post(f"/staff/discipline/{decision.id}/appeal", data={"grounds": "不服"})
    pages = ["/staff/me", f"/staff/discipline/{decision.id}",
             f"/staff/discipline/{decision.id}/appeal", f"/staff/recoveries/{r.id}",
             f"/staff/recoveries/{r.id}/statement"]
    from oversight.models import Appeal

    pages.append(f"/staff/appeals/{db.session.query(Appeal).one().id}")
    for number in db.session.query(Notice.number).filter(
            Notice.case_type.in_(("discipline", "appeal", "recovery", "suspension"))):
        pages.append(f"/staff/notices/{number[0]}")
    names = [a.original_name for a in db.session.query(Attachment)]
    secrets = ["王小明", "13800138000", "wang@example.com", complaint.number, *names]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        for secret in secrets:
            assert secret not in html, (url, secret)
    # The investigation and the complaint stay closed to the officer.
    assert client.get(f"/staff/investigations/{inv.id}").status_code == 404
    assert client.get(f"/staff/complaints/{complaint.id}").status_code == 404
    assert db.session.get(Investigation, inv.id) is not None
