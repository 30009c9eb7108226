"""The recusal jurisdiction matrix: for each of the five regulations, who may apply, whether
the grounds are listed or described, the article each rests on, and the national fallback
said out loud where a text is silent."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from helpers import organ, user

from oversight.extensions import db
from oversight.models import Notice, Recusal
from oversight.services import recusals, workflow
from oversight.services.errors import InvalidData
from oversight.services.uow import unit_of_work
from workflows.policy import get_packs

T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
NATIONAL_ADMIN = "《公安机关办理行政案件程序规定》第十七条"
THREE_GROUNDS = ["party_or_relative", "interest", "other_relation"]

# organ, officer, pack, applicant codes, listed grounds (None: described), grounds article,
# applicants article, fallback note shown for (grounds, applicants)
MATRIX = [
    ("BJ", "BJ10001", "beijing-2022", ["party", "legal_rep"], THREE_GROUNDS,
     "《北京市公安机关警务辅助人员管理办法》第十七条",
     "《北京市公安机关警务辅助人员管理办法》第十七条", (None, None)),
    ("PV", "PV20001", "province-2021", ["party", "legal_rep"], None,
     "第三十三条", "第三十三条", ("本条例未列举具体回避情形", None)),
    ("SC", "SC30001", "sichuan-2021", ["party", "legal_rep"], None,
     "第三十条", NATIONAL_ADMIN, ("本办法未列举具体回避情形", "本办法未规定谁可申请回避")),
    ("NT", "NT40001", "nantong-draft", ["party", "legal_rep"], THREE_GROUNDS,
     NATIONAL_ADMIN, NATIONAL_ADMIN, ("本办法未规定回避", "本办法未规定回避")),
    ("YN", "YN50001", "yunnan-2024", ["party", "guardian", "legal_person_rep", "agent"],
     THREE_GROUNDS, "《云南省公安机关警务辅助人员管理条例》第三十条",
     "《云南省公安机关警务辅助人员管理条例》第三十条", (None, None)),
]
IDS = [row[2] for row in MATRIX]


def application(organ_code: str, badge: str, **overrides) -> recusals.RecusalInput:
    data = dict(organ_id=organ(organ_code).id, applicant_role="party", name="张三",
                phone="13800138000", matter_ref="某公（治）受案字〔2026〕7号",
                officer_badge=badge, ground_code="", ground_text="",
                facts="该辅警与对方当事人同住一个小区，平时来往密切。")
    data.update(overrides)
    return recusals.RecusalInput(**data)


def file(data: recusals.RecusalInput) -> Recusal:
    with unit_of_work():
        return recusals.submit(data, T0)[0]


@pytest.mark.parametrize("organ_code, badge, pack_id, applicants, grounds, grounds_art, "
                         "applicants_art, notes", MATRIX, ids=IDS)
def test_pack_offers_its_applicants_and_grounds(demo, organ_code, badge, pack_id, applicants,
                                                grounds, grounds_art, applicants_art, notes):
    pack = organ(organ_code).pack
    assert pack.id == pack_id
    assert [a.code for a in pack.recusal_applicants] == applicants
    assert pack.recusal_grounds_enumerated is (grounds is not None)
    assert [g.code for g in pack.recusal_grounds] == (grounds or [])
    for key, article, note in (("recusal_grounds", grounds_art, notes[0]),
                               ("recusal_applicants", applicants_art, notes[1])):
        rule = pack.rule(key)
        assert article in rule.citation.label, (key, rule.citation.label)
        if note:
            assert note in rule.note, (key, rule.note)
    assert pack.rule("recusal_applicants").fallback is (pack_id in ("sichuan-2021",
                                                                    "nantong-draft"))
    assert pack.rule("recusal_grounds").fallback is (pack_id == "nantong-draft")


@pytest.mark.parametrize("organ_code, badge, pack_id, applicants, grounds, grounds_art, "
                         "applicants_art, notes", MATRIX, ids=IDS)
def test_each_pack_files_and_the_decision_cites_its_articles(
        demo, organ_code, badge, pack_id, applicants, grounds, grounds_art, applicants_art,
        notes):
    listed = grounds is not None
    case = file(application(organ_code, badge, applicant_role=applicants[-1],
                            ground_code=grounds[1] if listed else "",
                            ground_text="" if listed else "该辅警与对方当事人关系密切"))
    assert case.pack.id == pack_id and case.officer.badge_no == badge
    assert case.applicant.code == applicants[-1]
    assert (case.ground_code, bool(case.ground_text)) == ((grounds[1], False) if listed
                                                          else ("", True))
    leader = user("leader")
    with unit_of_work():  # a leader of this pack's deciding organ
        from oversight.models import User
        from workflows.roles import Role

        leader = User(username=f"leader-{organ_code}", display_name="x", role=Role.LEADER,
                      organ=organ(organ_code))
        leader.set_password("unused")
        db.session.add(leader)
    with unit_of_work():
        workflow.fire(case, "grant", leader, {"reason": "属实", "earlier_acts": "stand"},
                      now=T0)
    body = db.session.execute(sa.select(Notice.body).where(
        Notice.case_type == "recusal", Notice.case_id == case.id)).scalar_one()
    assert grounds_art in body and applicants_art in body
    for note in notes:
        if note:
            assert note in body, note
    if listed:
        assert case.ground.label in body
    else:
        assert "该辅警与对方当事人关系密切" in body
    # The decision is the officer's organ's, and it heads the document.
    assert body.startswith(case.officer.organ.full_name + "\n")


@pytest.mark.parametrize("organ_code, badge", [("BJ", "BJ10001"), ("NT", "NT40001"),
                                               ("YN", "YN50001")])
def test_a_ground_outside_the_packs_list_is_refused(demo, organ_code, badge):
    with pytest.raises(InvalidData) as info:
        file(application(organ_code, badge, ground_code="personal_dislike",
                         ground_text="我觉得他对我有偏见"))
    assert info.value.errors == {"ground_code": "请选择该机关适用的规定所列的回避情形"}


@pytest.mark.parametrize("organ_code, badge", [("PV", "PV20001"), ("SC", "SC30001")])
def test_a_general_clause_needs_the_circumstances_described(demo, organ_code, badge):
    with pytest.raises(InvalidData) as info:
        file(application(organ_code, badge, ground_code="interest", ground_text=" "))
    assert info.value.errors == {"ground_text": "请说明存在哪些可能影响其公正履职的情形"}


def test_a_described_ground_stores_no_code_where_the_pack_lists_none(demo):
    case = file(application("PV", "PV20001", ground_code="interest", ground_text="同乡好友"))
    assert (case.ground_code, case.ground_text, case.ground) == ("", "同乡好友", None)


@pytest.mark.parametrize("organ_code, badge, role, allowed", [
    ("YN", "YN50001", "guardian", True),
    ("YN", "YN50001", "legal_rep", False),  # Yunnan names 监护人, not 法定代理人
    ("BJ", "BJ10001", "guardian", False),
    ("BJ", "BJ10001", "legal_rep", True),
    ("SC", "SC30001", "legal_rep", True),  # the national fallback
    ("SC", "SC30001", "agent", False),
])
def test_who_may_apply_follows_the_pack(demo, organ_code, badge, role, allowed):
    pack = organ(organ_code).pack
    data = application(organ_code, badge, applicant_role=role,
                       ground_code=pack.recusal_grounds[0].code
                       if pack.recusal_grounds_enumerated else "",
                       ground_text="关系密切")
    if allowed:
        assert file(data).applicant_role == role
    else:
        with pytest.raises(InvalidData) as info:
            file(data)
        assert set(info.value.errors) == {"applicant_role"}


def test_every_shipped_pack_is_in_the_matrix():
    assert {p for p in get_packs() if p != "national"} == set(IDS)
