"""The kept counts of cases (services.counts): each write moves exactly its count, in its
transaction; what was written around the app is found and counted again; the queue's
totals read from them equal the cases for every filter. (Every test of the suite also
ends with the counts checked against the cases: tests/conftest.py.)"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from helpers import login, make_complaint, organ, user
from investigation_helpers import fire

from oversight.cli import counts_command
from oversight.extensions import db
from oversight.models import CaseCount, Complaint
from oversight.models.base import utcnow
from oversight.services import complaints, counts, registry, workflow
from oversight.services.organs import in_subtree
from oversight.services.uow import unit_of_work
from workflows.complaint import ComplaintState as CS


def kept() -> dict[tuple, int]:
    """The non-zero kept counts, fresh from the database."""
    db.session.expire_all()
    return {(c.case_type, c.organ_id, c.state): c.n
            for c in db.session.execute(sa.select(CaseCount)).scalars() if c.n}


def test_intake_adds_one_and_a_transition_moves_it(demo):
    before = kept()
    case, _code = make_complaint()
    cy = organ("BJ-CY").id
    assert kept() == before | {("complaint", cy, "submitted"): 1}
    second, _code = make_complaint()
    assert kept()[("complaint", cy, "submitted")] == 2
    fire(case, "accept", "intake")
    after = kept()
    assert after[("complaint", cy, "submitted")] == 1
    assert after[("complaint", cy, "accepted")] == 1
    assert counts.check(db.session.connection()) == []
    assert second.state is CS.SUBMITTED


def test_a_failed_unit_of_work_moves_no_count(demo):
    case, _code = make_complaint()
    before = kept()
    with pytest.raises(RuntimeError, match="after the transition"), unit_of_work():
        workflow.fire(case, "accept", user("intake"), {})
        db.session.flush()  # the count's row is written: the rollback must take it back
        raise RuntimeError("after the transition")
    assert kept() == before


def test_a_savepoint_rolled_back_takes_its_count_back(demo):
    """A case inserted and flushed under a savepoint that is then rolled back (as the
    intake's and the suspensions' savepoints do when they lose a race) leaves no count."""
    before = kept()
    with unit_of_work():
        with pytest.raises(RuntimeError, match="lost"), db.session.begin_nested():
            complaints.submit(complaints.ComplaintInput(
                kind="complaint", organ_id=organ("BJ-CY").id,
                category_code=organ("BJ-CY").pack.categories[0].code,
                narrative="2026年11月20日晚在三里屯路口，辅警态度蛮横，辱骂群众并推搡。",
                anonymous=True, officer_badge="BJ10001", incident_place="三里屯路口"),
                utcnow())
            db.session.flush()
            raise RuntimeError("lost")
    assert kept() == before
    assert db.session.execute(sa.select(sa.func.count(Complaint.id))).scalar_one() == 0


def test_a_state_set_on_an_expired_case_moves_its_count(demo):
    """The old state is loaded when the new one is set (``track``'s active history): a
    case expired by a commit still gives its count back."""
    case, _code = make_complaint()
    cy = organ("BJ-CY").id
    with unit_of_work():
        db.session.expire(case)
        case.state = CS.ACCEPTED
    assert kept()[("complaint", cy, "accepted")] == 1
    assert ("complaint", cy, "submitted") not in kept()
    with unit_of_work():
        case.state = CS.ACCEPTED  # the same state again: nothing moves
        case.incident_place = "三里屯路口东侧"  # an update of another column
    assert kept()[("complaint", cy, "accepted")] == 1


def test_check_finds_what_was_written_around_the_app_and_repair_counts_again(app, demo):
    first, _code = make_complaint()
    make_complaint()
    cy = organ("BJ-CY").id
    with unit_of_work():  # an operator's SQL: the ORM never sees it
        db.session.execute(sa.update(Complaint.__table__).where(
            Complaint.__table__.c.id == first.id).values(state="withdrawn"))
    conn = db.session.connection()
    assert counts.check(conn) == [(("complaint", cy, "submitted"), 2, 1),
                                  (("complaint", cy, "withdrawn"), 0, 1)]
    db.session.rollback()

    runner = app.test_cli_runner()
    result = runner.invoke(counts_command)
    assert result.exit_code == 1, result.output
    assert f"计数不符：complaint 机关 {cy} 状态 submitted，记录 2 件，实有 1 件" in result.output
    assert "2 项计数与案件不符" in result.output

    result = runner.invoke(counts_command, ["--repair"])
    assert result.exit_code == 0, result.output
    assert "已重新计数：2 行" in result.output
    result = runner.invoke(counts_command)
    assert result.exit_code == 0 and "计数与案件一致" in result.output, result.output
    assert kept() == {("complaint", cy, "submitted"): 1, ("complaint", cy, "withdrawn"): 1}


def test_repair_of_an_empty_database_writes_nothing(app):
    with unit_of_work():
        assert counts.repair(db.session.connection()) == 0
    assert kept() == {}


def _listed(html: str) -> int:
    return int(re.search(r"（共 (\d+) 件）", html).group(1))


def test_the_queue_totals_equal_the_cases_for_every_filter(client, demo):
    """For every state filter, with and without an organ, the total read from the kept
    counts is the number of cases the same filter lists."""
    station = organ("BJ-CY-SLT")
    cases = [make_complaint()[0] for _ in range(4)]
    fire(cases[0], "accept", "intake")
    fire(cases[1], "accept", "intake")
    fire(cases[1], "start_investigation", "inspector")
    fire(cases[2], "propose_refusal", "intake", {"reason": "不属于受理范围"})
    make_complaint(organ_id=organ("BJ-HD").id, officer_badge="BJ10003")
    login(client, demo, "leader")
    leader = user("leader")
    spec = registry.spec_for("complaint")
    filters = {"": None, "open": [s for s in spec.states if s not in spec.terminal],
               "todo": list(spec.states_awaiting(leader.role)),
               **{s.value: [s] for s in spec.states}}
    seen = set()
    for state, states in filters.items():
        for narrowed in (None, station, organ("BJ-CY"), organ("BJ-HD")):
            q = sa.select(sa.func.count(Complaint.id)).where(
                in_subtree(Complaint.organ_id, leader.organ.path))
            if states is not None:
                q = q.where(Complaint.state.in_(states))
            if narrowed is not None and narrowed.path.startswith(leader.organ.path):
                q = q.where(in_subtree(Complaint.organ_id, narrowed.path))
            expected = db.session.execute(q).scalar_one()
            seen.add(expected)
            html = client.get(f"/staff/?type=complaint&state={state}"
                              f"&organ={narrowed.id if narrowed else ''}")
            assert _listed(html.get_data(as_text=True)) == expected, (state, narrowed)
    assert {0, 1} <= seen and max(seen) >= 4  # the filters told the cases apart
