"""Staff pages for investigations and suspensions: opening an investigation, the case pages
with the evidence log, an officer's record with the 暂停履职 flag, the officer's own page,
conflict declarations, and bad input reported beside the field with the typing kept."""

from __future__ import annotations

import re

import pytest
from helpers import (
    PNG_BYTES,
    days,
    file_field,
    login,
    make_complaint,
    organ,
    sql_statements,
    user,
)
from investigation_helpers import (
    CLEARED,
    add_user,
    fire,
    officer,
    open_on_initiative,
    suspensions_of,
)
from webhelpers import (
    action_ids,
    element,
    field_box,
    field_errors,
    flashes,
    isolate_requests,
    pager_links,
    refreshed,
    text_of,
    value_of,
)

from oversight.extensions import db
from oversight.models import ConflictDeclaration, Investigation, Officer, OfficerCategory
from oversight.models.base import utcnow
from oversight.services import investigations
from oversight.services.uow import unit_of_work
from workflows.roles import Role


@pytest.fixture
def staff(app, demo):
    isolate_requests(app)
    add_user("inspector2", Role.INSPECTOR, "BJ-CY", "督察小李")
    return demo


def _open(client, **fields):
    data = {"origin": "initiative", "organ_id": "", "subject": "", "summary": "",
            "officer_badge": "", "complaint_numbers": "", "lead_id": ""}
    data.update(fields)
    return client.post("/staff/investigations/new", data=data)


def test_open_page_opens_from_complaints_and_lands_on_the_case(client, staff):
    complaint, _code = make_complaint()
    fire(complaint, "accept", "intake")
    login(client, staff, "inspector")
    page = client.get(f"/staff/investigations/new?complaint={complaint.number}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert value_of(html, "complaint_numbers") == complaint.number
    assert value_of(html, "lead_id") == str(user("inspector").id)  # the opener leads
    response = _open(client, origin="complaint", complaint_numbers=complaint.number,
                     organ_id=str(user("inspector").organ_id), subject="辱骂群众",
                     lead_id=str(user("inspector").id),
                     assistant_ids=[str(user("inspector2").id)])
    assert response.status_code == 302, response.get_data(as_text=True)
    inv = db.session.query(Investigation).one()
    assert response.headers["Location"] == f"/staff/investigations/{inv.id}"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"已立案调查，编号 {inv.number}" in flashes(html)
    assert complaint.number in text_of(element(html, "linked-complaints"))
    assert "BJ10001" in text_of(element(html, "investigated-officer"))
    assert "督察小李" in text_of(element(html, "team-assistants"))
    # 北京 leaves suspension to the organ: said so, and the inspector may request one.
    assert "本地规定未作规定" in text_of(element(html, "suspension-rule"))
    assert {"add_evidence", "request_suspension", "propose_cleared"} <= action_ids(html)


def test_bad_input_is_reported_beside_the_field_and_the_typing_kept(client, staff):
    with db.session.begin():
        db.session.add(ConflictDeclaration(user_id=user("inspector2").id,
                                           officer_id=officer("BJ10001").id, reason="亲属"))
    login(client, staff, "inspector")
    response = _open(client, origin="complaint", complaint_numbers="TS2000999999",
                     subject="辱骂群众", summary="群众来电反映的详细经过")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_errors(field_box(html, "complaint_numbers")) == [
        "未找到投诉 TS2000999999，或不在您的管辖范围内"]
    assert value_of(html, "subject") == "辱骂群众"
    assert value_of(html, "summary") == "群众来电反映的详细经过"

    response = _open(client, origin="initiative", officer_badge="BJ10001", subject="",
                     organ_id=str(user("inspector").organ_id), lead_id=str(user("inspector").id),
                     assistant_ids=[str(user("inspector2").id)])
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_errors(field_box(html, "subject")) == ["请填写调查事项"]
    assert value_of(html, "officer_badge") == "BJ10001"

    response = _open(client, origin="initiative", officer_badge="BJ10001", subject="线索",
                     organ_id=str(user("inspector").organ_id), lead_id=str(user("inspector").id),
                     assistant_ids=[str(user("inspector2").id)])
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_errors(field_box(html, "assistant_ids")) == [
        "督察小李 已声明与本案存在利益冲突，不能指派"]
    assert value_of(html, "subject") == "线索"
    assert db.session.query(Investigation).count() == 0


def test_case_pages_show_the_evidence_log_with_superseded_entries(client, staff):
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector", assistants=["inspector2"])
    login(client, staff, "inspector")
    url = f"/staff/investigations/{inv.id}"
    html = client.get(url).get_data(as_text=True)
    version = value_of(html, "version")
    response = client.post(f"{url}/add_evidence", data={
        "version": version, "evidence_kind": "scene", "evidence_title": "现场照片",
        "evidence_description": "路口监控截图", "files": file_field(PNG_BYTES, "现场.png")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    # A recorder entry without its reference: the error sits beside the field.
    html = client.get(url).get_data(as_text=True)
    response = client.post(f"{url}/add_evidence", data={
        "version": value_of(html, "version"), "evidence_kind": "recorder",
        "evidence_title": "执法记录仪视频"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_errors(field_box(html, "add_evidence-recorder_ref")) == [
        "执法记录仪视频须注明记录仪编号和起止时间"]
    assert value_of(html, "add_evidence-evidence_title") == "执法记录仪视频"

    entry = refreshed(inv) and investigations.evidence_of(inv)[0]
    html = client.get(url).get_data(as_text=True)
    response = client.post(f"{url}/supersede_evidence", data={
        "version": value_of(html, "version"), "evidence_id": str(entry.id),
        "reason": "截图时间有误"})
    assert response.status_code == 302, response.get_data(as_text=True)
    html = client.get(url).get_data(as_text=True)
    row = element(html, f"evidence-{entry.id}")
    assert "<del>现场照片</del>" in row
    assert "截图时间有误" in text_of(row) and "督察老孙" in text_of(row)
    assert "现场.png" in row
    # The file downloads from the investigation's own URL.
    link = f"/staff/investigations/{inv.id}/files/{entry.attachment_id}"
    assert link in row
    download = client.get(link)
    assert download.status_code == 200 and download.data == PNG_BYTES
    download.close()


def test_officer_record_flags_the_suspended_officer(client, staff):
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "request_suspension", "inspector", {"reason": "暂停执勤"})
    suspension = suspensions_of("BJ10001")[0]
    fire(suspension, "approve", "leader")
    login(client, staff, "leader")
    bj1 = officer("BJ10001")
    html = client.get(f"/staff/officers/{bj1.id}").get_data(as_text=True)
    assert "暂停履职" in text_of(element(html, "duty-status"))
    assert suspension.number in text_of(element(html, "officer-suspensions"))
    assert inv.number in text_of(element(html, "officer-investigations"))
    assert "suspended-flag" in html.split("</h1>")[0]
    other = client.get(f"/staff/officers/{officer('BJ10002').id}").get_data(as_text=True)
    assert "suspended-flag" not in other and "正常履行职责" in other
    # The investigation page and the suspension page flag the officer too.
    html = client.get(f"/staff/investigations/{inv.id}").get_data(as_text=True)
    assert "暂停履职" in text_of(element(html, "investigated-officer"))
    html = client.get(f"/staff/suspensions/{suspension.id}").get_data(as_text=True)
    assert "参照" in text_of(element(html, "suspension-limit"))
    assert "《公安机关督察条例》第十二条" in text_of(element(html, "suspension-limit"))
    assert "本地规定未作规定" in text_of(element(html, "suspension-basis"))
    # Out of scope: another jurisdiction's officer does not exist for this leader.
    assert client.get(f"/staff/officers/{officer('YN50001').id}").status_code == 404


def test_the_officer_sees_their_record_and_appeals_on_their_suspension(client, staff):
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "request_suspension", "inspector", {"reason": "暂停执勤"})
    suspension = suspensions_of("BJ10001")[0]
    fire(suspension, "approve", "leader")
    login(client, staff, "officer")
    html = client.get("/staff/me").get_data(as_text=True)
    assert 'id="badge">BJ10001<' in html
    assert "暂停履职" in text_of(element(html, "duty-status"))
    assert f"/staff/suspensions/{suspension.id}" in element(html, "officer-suspensions")
    assert "/staff/me/recusals/new" in html
    assert "已回避事项" in html
    assert inv.number not in text_of(element(html, "officer-suspensions"))  # no link to it
    assert f"/staff/investigations/{inv.id}" not in html
    assert client.get(f"/staff/investigations/{inv.id}").status_code == 404
    assert client.get(f"/staff/officers/{officer('BJ10001').id}").status_code == 302

    page = client.get(f"/staff/suspensions/{suspension.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and action_ids(html) == {"appeal"}
    response = client.post(f"/staff/suspensions/{suspension.id}/appeal", data={
        "version": value_of(html, "version"), "reason": "本人没有辱骂群众"})
    assert response.status_code == 302
    html = client.get(f"/staff/suspensions/{suspension.id}").get_data(as_text=True)
    assert "本人没有辱骂群众" in text_of(element(html, "appeal"))
    assert "暂停履行职责中" in text_of(element(html, "duty-status"))  # not paused

    inv2 = open_on_initiative("BJ-CY", "BJ10002", "inspector")
    fire(inv2, "request_suspension", "inspector", {"reason": "暂停"})
    other = suspensions_of("BJ10002")[0]
    assert client.get(f"/staff/suspensions/{other.id}").status_code == 404
    assert client.post(f"/staff/suspensions/{other.id}/appeal",
                       data={"reason": "x"}).status_code == 404


def test_conflicts_page_lists_and_declares(client, staff):
    inv = open_on_initiative("BJ-CY", "BJ10002", "inspector")
    login(client, staff, "inspector")
    html = client.get("/staff/conflicts").get_data(as_text=True)
    assert "暂无声明" in html
    response = client.post("/staff/conflicts", data={"officer_badge": "", "complaint_number": "",
                                                      "reason": "亲属关系"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_errors(field_box(html, "officer_badge")) == ["请填写辅警编号或投诉编号中的一项"]
    assert value_of(html, "reason") == "亲属关系"
    response = client.post("/staff/conflicts", data={"officer_badge": "bj10002",
                                                      "reason": "系本人表妹"})
    assert response.status_code == 302
    html = client.get("/staff/conflicts").get_data(as_text=True)
    messages = flashes(html)
    assert "已登记利益冲突声明" in messages
    assert any(inv.number in m and "调整调查组" in m for m in messages)
    assert "BJ10002" in text_of(element(html, "conflict-list"))
    assert "系本人表妹" in text_of(element(html, "conflict-list"))
    # Leaders see their inspectors' declarations; intake may not use the page.
    client.post("/staff/logout")
    login(client, staff, "leader")
    html = client.get("/staff/conflicts").get_data(as_text=True)
    assert "督察老孙" in text_of(element(html, "conflict-list"))
    assert element(html, "declare-conflict") is None
    client.post("/staff/logout")
    login(client, staff, "intake")
    assert client.get("/staff/conflicts").status_code == 403


def test_assigned_down_investigation_offers_assign_team_to_the_lower_leader(client, staff):
    _u, _pw = add_user("cityleader", Role.LEADER, "BJ", "市局督察长")
    staff["cityleader"] = _pw
    login(client, staff, "cityleader")
    response = _open(client, origin="assigned", organ_id=str(user("leader").organ_id),
                     officer_badge="BJ10002", subject="交办：违规收费线索")
    assert response.status_code == 302, response.get_data(as_text=True)
    client.post("/staff/logout")
    inv = db.session.query(Investigation).one()
    login(client, staff, "leader")
    html = client.get(f"/staff/investigations/{inv.id}").get_data(as_text=True)
    assert "assign_team" in action_ids(html)
    assert "北京市公安局" in text_of(element(html, "investigation-facts"))
    response = client.post(f"/staff/investigations/{inv.id}/assign_team", data={
        "version": value_of(html, "version"), "lead_id": str(user("inspector2").id)})
    assert response.status_code == 302
    assert refreshed(inv).lead_id == user("inspector2").id


def test_cleared_page_and_clarification(client, staff):
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "propose_cleared", "inspector", CLEARED)
    fire(inv, "approve_cleared", "leader")
    login(client, staff, "inspector")
    html = client.get(f"/staff/investigations/{inv.id}").get_data(as_text=True)
    assert element(html, "clarification-prompt") is None  # 北京: available, not asked
    assert "record_clarification" in action_ids(html)
    assert "不属实" in html


def test_complaint_page_starts_or_joins_an_investigation(client, staff):
    first, _c1 = make_complaint()
    second, _c2 = make_complaint()
    for c in (first, second):
        fire(c, "accept", "intake")
    login(client, staff, "inspector")
    url = f"/staff/complaints/{first.id}"
    html = client.get(url).get_data(as_text=True)
    response = client.post(f"{url}/start_investigation", data={
        "version": value_of(html, "version"), "investigation_number": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    inv = refreshed(first).investigation
    assert inv.lead_id == user("inspector").id

    url = f"/staff/complaints/{second.id}"
    html = client.get(url).get_data(as_text=True)
    response = client.post(f"{url}/start_investigation", data={
        "version": value_of(html, "version"), "investigation_number": "DC1999000001"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    box = field_box(html, "start_investigation-investigation_number")
    assert field_errors(box) == ["未找到该调查编号，或不在您的管辖范围内"]
    assert value_of(html, "start_investigation-investigation_number") == "DC1999000001"
    response = client.post(f"{url}/start_investigation", data={
        "version": value_of(html, "version"), "investigation_number": inv.number.lower()})
    assert response.status_code == 302
    assert refreshed(second).investigation_id == inv.id
    html = client.get(f"/staff/investigations/{inv.id}").get_data(as_text=True)
    linked = text_of(element(html, "linked-complaints"))
    assert first.number in linked and second.number in linked


def test_open_page_takes_several_complaint_numbers(client, staff):
    a, _ca = make_complaint()
    b, _cb = make_complaint()
    for c in (a, b):
        fire(c, "accept", "intake")
    login(client, staff, "inspector")
    response = _open(client, origin="complaint", complaint_numbers=f"{a.number}、{b.number}",
                     organ_id=str(user("inspector").organ_id), subject="同一事件两件投诉",
                     lead_id=str(user("inspector").id))
    assert response.status_code == 302, response.get_data(as_text=True)
    inv = db.session.query(Investigation).one()
    assert {refreshed(a).investigation_id, refreshed(b).investigation_id} == {inv.id}


def test_queue_links_to_the_open_and_conflict_pages(client, staff):
    open_on_initiative("BJ-CY", "BJ10001", "inspector")
    login(client, staff, "inspector")
    html = client.get("/staff/?type=investigation").get_data(as_text=True)
    assert 'href="/staff/investigations/new"' in html and 'href="/staff/conflicts"' in html
    assert "BJ10001 张伟 · 执勤中态度粗暴的线索" in html  # the queue's summary line


def test_suspended_officer_is_flagged_on_complaint_and_recusal_pages(staff, client):
    from oversight.models.base import utcnow
    from oversight.services import recusals
    from oversight.services.uow import unit_of_work

    complaint, _code = make_complaint()  # about BJ10001
    with unit_of_work():
        recusal, _code = recusals.submit(recusals.RecusalInput(
            organ_id=officer("BJ10001").organ_id, applicant_role="party", name="王小明",
            phone="13800138000", matter_ref="京公（朝）行罚决字〔2026〕7号",
            facts="该辅警与对方当事人是亲属，申请其回避。", officer_badge="BJ10001",
            ground_code="party_or_relative"), utcnow())
    login(client, staff, "leader")
    for url in (f"/staff/complaints/{complaint.id}", f"/staff/recusals/{recusal.id}"):
        assert "suspended-flag" not in client.get(url).get_data(as_text=True), url
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "request_suspension", "inspector", {"reason": "暂停执勤"})
    fire(suspensions_of("BJ10001")[0], "approve", "leader")
    for url in (f"/staff/complaints/{complaint.id}", f"/staff/recusals/{recusal.id}"):
        facts = client.get(url).get_data(as_text=True).split('class="facts"', 1)[1]
        facts = facts.split("</dl>", 1)[0]
        assert "suspended-flag" in facts, url
        assert "BJ10001" in facts, url


# --------------------------------------------------------------------------- paging


def _reasons(html: str) -> list[str]:
    """The declarations listed, in order, by their reason."""
    return re.findall(r'<td data-label="情形" class="narrative">([^<]*)</td>',
                      element(html, "conflict-list") or "")


@pytest.fixture
def many_conflicts(staff):
    """督察老孙 (朝阳) declares 27 conflicts, newest first 关系26 … 关系0 but for ties
    (pairs declared the same minute, the later-declared first); 督察小李 (朝阳) two; an
    inspector of 海淀 one, which 朝阳's leader does not see. Returns the inspector's and
    the leader's lists as the page should order them."""
    add_user("hd-insp", Role.INSPECTOR, "BJ-HD", "督察海淀")
    base = utcnow() - days(60)
    with unit_of_work():
        people = [Officer(badge_no=f"BJ19{i:03d}", name=f"辅警{i}", organ=organ("BJ-CY"),
                          category=OfficerCategory.DUTY) for i in range(29)]
        people.append(Officer(badge_no="BJ29000", name="海淀辅警", organ=organ("BJ-HD"),
                              category=OfficerCategory.DUTY))
        db.session.add_all(people)
    declared = []
    with unit_of_work():
        for i in range(27):
            declared.append(investigations.declare_conflict(
                user("inspector"), officer=people[i], reason=f"关系{i}",
                now=base + days(i - i % 2)))
        for i in (27, 28):
            declared.append(investigations.declare_conflict(
                user("inspector2"), officer=people[i], reason=f"小李关系{i}",
                now=base + days(i)))
        investigations.declare_conflict(user("hd-insp"), officer=people[29],
                                        reason="海淀的声明", now=base)

    def ordered(decls):
        return [d.reason for d in sorted(decls, key=lambda d: (d.declared_at, d.id),
                                         reverse=True)]

    return ordered(declared[:27]), ordered(declared), staff


def test_an_inspectors_conflicts_are_paged_newest_first(client, many_conflicts):
    own, _all, logins = many_conflicts
    login(client, logins, "inspector")
    first = client.get("/staff/conflicts").get_data(as_text=True)
    assert pager_links(first) == {"next": "/staff/conflicts?page=2"}
    second = client.get("/staff/conflicts?page=2").get_data(as_text=True)
    assert pager_links(second) == {"prev": "/staff/conflicts?page=1"}
    page1, page2 = _reasons(first), _reasons(second)
    assert len(page1) == 25 and len(page2) == 2 and not set(page1) & set(page2)
    assert page1 + page2 == own
    for html, number in ((first, 1), (second, 2)):
        assert text_of(element(html, "conflict-total")) == "（共 27 条）"
        assert f"{number} / 2" in text_of(element(html, "pager"))
        assert element(html, "declare-conflict") is not None


def test_a_leader_pages_through_the_subtrees_declarations(client, many_conflicts):
    _own, everyone, logins = many_conflicts
    login(client, logins, "leader")
    first = client.get("/staff/conflicts").get_data(as_text=True)
    second = client.get(pager_links(first)["next"]).get_data(as_text=True)
    assert _reasons(first) + _reasons(second) == everyone
    assert "（共 29 条）" in text_of(element(second, "conflict-total"))
    assert "海淀的声明" not in first + second
    assert "督察小李" in text_of(element(first, "conflict-list"))


@pytest.mark.parametrize("page, shown", [("abc", 1), ("-1", 1), ("0", 1), ("2", 2),
                                         ("3", 2), ("99999999999999999999", 2)])
def test_conflicts_take_any_page_number(client, many_conflicts, page, shown):
    own, _all, logins = many_conflicts
    login(client, logins, "inspector")
    response = client.get(f"/staff/conflicts?page={page}")
    assert response.status_code == 200
    assert _reasons(response.get_data(as_text=True)) == own[(shown - 1) * 25:shown * 25]


def test_declaring_from_the_second_page_still_works(client, many_conflicts):
    own, _all, logins = many_conflicts
    login(client, logins, "inspector")
    response = client.post("/staff/conflicts?page=2", data={"officer_badge": "",
                                                            "reason": "亲属关系"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_errors(field_box(html, "officer_badge")) == ["请填写辅警编号或投诉编号中的一项"]
    assert value_of(html, "reason") == "亲属关系"
    assert _reasons(html) == own[25:]
    response = client.post("/staff/conflicts?page=2", data={"officer_badge": "BJ10002",
                                                            "reason": "同学关系"})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/conflicts"
    html = client.get("/staff/conflicts").get_data(as_text=True)
    assert _reasons(html)[0] == "同学关系"
    assert text_of(element(html, "conflict-total")) == "（共 28 条）"


def test_a_page_of_declarations_reads_a_page_and_counts_once(client, many_conflicts):
    _own, _all, logins = many_conflicts
    login(client, logins, "leader")
    client.get("/staff/conflicts")  # warm the per-process caches first
    runs = []
    for page in (1, 2):
        with sql_statements() as seen:
            assert client.get(f"/staff/conflicts?page={page}").status_code == 200
        runs.append(seen)
    assert len(runs[0]) == len(runs[1])
    for statements in runs:
        assert len([s for s in statements
                    if s.startswith("select count(conflict_declaration.id)")]) == 1
        [listed] = [s for s in statements if "from conflict_declaration" in s
                    and not s.startswith("select count(")]
        assert "limit" in listed and "offset" in listed
