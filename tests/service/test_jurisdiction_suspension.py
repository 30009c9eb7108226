"""The same investigation in each of the five jurisdictions: Yunnan suspends the officer
automatically for the investigation (第三十二条); elsewhere an inspector requests it and a
leader approves it, on the national fallback, which the notice says. The Sichuan pack alone
(第二十八条) prompts for a clarification when an officer is cleared of an untrue complaint."""

from __future__ import annotations

import pytest
from helpers import login
from investigation_helpers import (
    PACK_SITES,
    events_of,
    fire,
    notices_of,
    officer,
    open_on_initiative,
    staff_at,
    suspensions_of,
)

from oversight.models import CaseClock
from oversight.models.base import utcnow
from oversight.services import investigations, suspensions
from oversight.services.errors import IllegalTransition
from workflows.roles import Role
from workflows.suspension import SuspensionState

PACKS = sorted(PACK_SITES)
LIMIT_WORDS = "参照《公安机关督察条例》第十二条"
PROMPT = 'id="clarification-prompt"'


@pytest.fixture
def site(request, demo):
    pack_id = request.param
    organ_code, badge = PACK_SITES[pack_id]
    passwords = staff_at(organ_code, "s")
    return pack_id, organ_code, badge, {**demo, **passwords}


@pytest.mark.parametrize("site", PACKS, indirect=True)
def test_suspension_by_jurisdiction(site):
    pack_id, organ_code, badge, _pw = site
    inv = open_on_initiative(organ_code, badge, "s-insp")
    assert inv.pack.id == pack_id
    held = suspensions_of(badge)
    rule = inv.pack.rule("suspension")

    if pack_id == "yunnan-2024":
        assert inv.pack.suspension_mandatory and not rule.fallback
        (s,) = held
        assert s.state is SuspensionState.ACTIVE and s.automatic
        assert s.investigation_id == inv.id and s.started_at == inv.created_at
        opening = events_of(s)[0]
        assert opening.trigger == "suspend_automatically"
        assert opening.actor_role is Role.SYSTEM and opening.actor_id is None
        assert "第三十二条" in opening.article
        assert events_of(inv)[0].payload["suspension"] == s.number
        clock = CaseClock.query.filter_by(case_type="suspension", case_id=s.id).one()
        assert clock.kind == "suspension_max" and clock.due_at == s.ends_at
        decision = notices_of(s, "decision")[0].body
        assert "第三十二条" in decision and "调查期间暂停履行职责" in decision
        assert "云南省公安厅昆明市公安局五华分局" in decision
        assert LIMIT_WORDS in decision and "第二十一条" in decision  # 申诉, 云南 21(6)
        assert "申诉期间，不停止本决定的执行" in decision
        assert officer(badge).id in suspensions.suspended_officer_ids(utcnow())
        # Nothing to request: it is already in force by law.
        with pytest.raises(IllegalTransition, match="一律暂停履职"):
            fire(inv, "request_suspension", "s-insp", {"reason": "申请"})
    else:
        assert not inv.pack.suspension_mandatory and rule.fallback
        assert held == []
        assert officer(badge).id not in suspensions.suspended_officer_ids(utcnow())
        fire(inv, "request_suspension", "s-insp", {"reason": "涉嫌违规，暂停执勤便于调查"})
        (s,) = suspensions_of(badge)
        assert s.state is SuspensionState.REQUESTED and not s.automatic
        assert events_of(s)[0].trigger == "request"
        assert events_of(s)[0].article == "全国公安机关警务辅助人员管理通行做法"
        fire(s, "approve", "s-lead")
        decision = notices_of(s, "decision")[0].body
        assert "全国公安机关警务辅助人员管理通行做法" in decision
        assert "本地规定未作规定" in decision and rule.note in decision
        assert LIMIT_WORDS in decision
        appeal = inv.pack.rule("appeal_right")
        assert appeal.citation.label in decision
        assert officer(badge).id in suspensions.suspended_officer_ids(utcnow())

    # Cleared: the officer is reinstated everywhere, with the lifted notice.
    fire(inv, "propose_cleared", "s-insp", {"complaint_finding": "unfounded",
                                            "facts": "经查，反映情况不属实。"})
    fire(inv, "approve_cleared", "s-lead")
    assert s.state is SuspensionState.LIFTED
    lifted = notices_of(s, "lifted")[0].body
    assert "恢复履行职责" in lifted and "违规不成立" in lifted
    assert officer(badge).id not in suspensions.suspended_officer_ids(utcnow())


@pytest.mark.parametrize("site", PACKS, indirect=True)
@pytest.mark.parametrize("finding", ["unfounded", "unsubstantiated"])
def test_clarification_prompt_only_in_sichuan_for_an_untrue_complaint(site, finding, app,
                                                                      client):
    pack_id, organ_code, badge, passwords = site
    inv = open_on_initiative(organ_code, badge, "s-insp")
    fire(inv, "propose_cleared", "s-insp", {"complaint_finding": finding,
                                            "facts": "经查，该辅警依法履职。"})
    url = f"/staff/investigations/{inv.id}"
    login(client, passwords, "s-insp")
    before = client.get(url).get_data(as_text=True)
    assert PROMPT not in before  # not before approval
    fire(inv, "approve_cleared", "s-lead")

    expected = pack_id == "sichuan-2021" and finding == "unfounded"
    assert investigations.needs_clarification_prompt(inv) is expected
    html = client.get(url).get_data(as_text=True)
    assert (PROMPT in html) is expected
    # The record itself is available everywhere once the officer is cleared.
    assert 'id="action-record_clarification"' in html
    if expected:
        prompt = html.split(PROMPT, 1)[1].split("</div>", 1)[0]
        assert "第二十八条" in prompt and "澄清事实" in prompt
        fire(inv, "record_clarification", "s-insp",
             {"clarification": "在成都市公安局官方网站发布通报，澄清事实。"})
        html = client.get(url).get_data(as_text=True)
        assert PROMPT not in html
        assert 'id="clarification">在成都市公安局官方网站发布通报' in html
