"""Early-intervention pages: the leaders' list of flags with the complaints linked, the
nav count, clearing with a note (errors beside the field, typing kept), flags on the
officer's record for leaders only, never on the officer's own page, and the settings."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from helpers import days, login, make_complaint, organ, sql_statements, user
from investigation_helpers import add_user, officer
from webhelpers import (
    csrf_token,
    element,
    field_box,
    field_errors,
    flashes,
    isolate_requests,
    pager_links,
    text_of,
    value_of,
)

from oversight.extensions import db
from oversight.models import InterventionRule, OfficerFlag
from oversight.models.base import utcnow
from oversight.services import workflow
from oversight.services.uow import unit_of_work
from workflows.roles import Role

BADGE = "BJ10001"
NAME, PHONE, EMAIL = "王小明", "13800138000", "wang@example.com"  # make_complaint's


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)  # before the ``client`` fixture makes its client


@pytest.fixture
def staff(demo):
    """The demo logins plus a leader of 海淀分局 (朝阳's sibling) and one of 三里屯
    (朝阳's child)."""
    passwords = dict(demo)
    for username, organ_code in (("hd-leader", "BJ-HD"), ("slt-leader", "BJ-CY-SLT")):
        _account, passwords[username] = add_user(username, Role.LEADER, organ_code)
    return passwords


def _accepted(badge: str = BADGE, category_index: int = 0, ago: int = 10):
    when = utcnow() - days(ago)
    pack = organ("BJ-CY").pack
    complaint, _code = make_complaint(now=when, officer_badge=badge,
                                      category_code=pack.categories[category_index].code)
    with unit_of_work():
        workflow.fire(complaint, "accept", user("intake"), now=when)
    return complaint


@pytest.fixture
def flagged(staff):
    """Three complaints about BJ10001 in three categories: one count flag."""
    complaints = [_accepted(category_index=i, ago=30 - i) for i in range(3)]
    flag = db.session.execute(sa.select(OfficerFlag)).scalar_one()
    return flag, complaints, staff


def _flag(flag_id: int) -> OfficerFlag:
    db.session.rollback()
    return db.session.get(OfficerFlag, flag_id)


# --------------------------------------------------------------------------- the list


def test_leader_sees_the_flag_with_the_complaints_linked(client, flagged):
    flag, complaints, demo = flagged
    login(client, demo, "leader")
    html = client.get("/staff/flags").get_data(as_text=True)
    row = element(html, f"flag-{flag.id}", within="open-flags")
    assert row is not None
    assert BADGE in row and officer(BADGE).name in row
    for c in complaints:
        assert f'href="/staff/complaints/{c.id}"' in row and c.number in row
    assert "被投诉 3 件" in text_of(row)
    for secret in (NAME, PHONE, EMAIL):
        assert secret not in html
    # A phone reads each row as labelled cells.
    assert 'class="stack"' in html
    assert all('data-label="' in td for td in re.findall(r"<td[^>]*>", row))
    nav = element(html, "nav-flags")
    assert text_of(nav).strip() == "辅警预警 1"


def test_upper_organ_leader_sees_it_and_sibling_leader_does_not(client, flagged):
    flag, complaints, demo = flagged
    login(client, demo, "bj_leader")
    assert element(client.get("/staff/flags").get_data(as_text=True),
                   f"flag-{flag.id}") is not None

    other = client.application.test_client()
    login(other, demo, "hd-leader")
    html = other.get("/staff/flags").get_data(as_text=True)
    assert element(html, f"flag-{flag.id}") is None
    assert complaints[0].number not in html
    assert element(html, "nav-flags") is not None and "badge" not in element(html, "nav-flags")
    response = other.post(f"/staff/flags/{flag.id}/clear", data={"note": "越权解除"})
    assert response.status_code == 404
    assert _flag(flag.id).cleared_at is None


@pytest.mark.parametrize("who", ["inspector", "intake", "officer", "admin"])
def test_only_leaders_have_the_flags_page(client, flagged, who):
    flag, _complaints, demo = flagged
    login(client, demo, who)
    assert client.get("/staff/flags").status_code == 403
    assert client.post(f"/staff/flags/{flag.id}/clear",
                       data={"note": "x"}).status_code == 404
    assert _flag(flag.id).cleared_at is None


# --------------------------------------------------------------------------- clearing


def test_clearing_without_a_note_shows_the_error_beside_the_field(client, flagged):
    flag, _complaints, demo = flagged
    login(client, demo, "leader")
    response = client.post(f"/staff/flags/{flag.id}/clear", data={"note": "   "})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    box = field_box(html, f"note-{flag.id}")
    [error] = field_errors(box)
    assert "请填写解除预警的说明" in error
    assert value_of(html, f"note-{flag.id}") == "   "
    assert _flag(flag.id).cleared_at is None


def test_clearing_with_a_note_then_the_next_complaint_flags_again(client, flagged):
    flag, _complaints, demo = flagged
    login(client, demo, "leader")
    response = client.post(f"/staff/flags/{flag.id}/clear",
                           data={"note": "已约谈，责令改正。"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "已解除预警" in flashes(html)
    assert element(html, f"flag-{flag.id}", within="cleared-flags") is not None
    assert element(html, f"flag-{flag.id}", within="open-flags") is None
    assert "已约谈，责令改正。" in html
    cleared = _flag(flag.id)
    assert cleared.cleared_by_id == user("leader").id

    fourth = _accepted(category_index=3, ago=1)
    html = client.get("/staff/flags").get_data(as_text=True)
    [new] = db.session.execute(sa.select(OfficerFlag).where(
        OfficerFlag.cleared_at.is_(None))).scalars().all()
    row = element(html, f"flag-{new.id}", within="open-flags")
    assert fourth.number in row and "被投诉 4 件" in text_of(row)


def test_clearing_needs_a_csrf_token(app, client, flagged):
    flag, _complaints, demo = flagged
    login(client, demo, "leader")
    app.config["WTF_CSRF_ENABLED"] = True  # the test config turns it off; production has it
    response = client.post(f"/staff/flags/{flag.id}/clear", data={"note": "已处理"})
    assert response.status_code == 400
    assert _flag(flag.id).cleared_at is None
    token = csrf_token(client.get("/staff/flags").get_data(as_text=True))
    response = client.post(f"/staff/flags/{flag.id}/clear",
                           data={"note": "已处理", "csrf_token": token})
    assert response.status_code == 302
    assert _flag(flag.id).cleared_at is not None


# --------------------------------------------------------------------------- the record


def test_the_officers_record_shows_flags_to_leaders_only(client, flagged):
    flag, complaints, demo = flagged
    officer_id = officer(BADGE).id
    login(client, demo, "leader")
    html = client.get(f"/staff/officers/{officer_id}").get_data(as_text=True)
    section = element(html, "officer-flags")
    assert section is not None
    for c in complaints:
        assert c.number in section and f'href="/staff/complaints/{c.id}"' in section
    assert f'href="/staff/flags?flag={flag.id}#flag-{flag.id}"' in section

    inspector = client.application.test_client()
    login(inspector, demo, "inspector")
    html = inspector.get(f"/staff/officers/{officer_id}").get_data(as_text=True)
    assert element(html, "officer-flags") is None


def test_the_officers_own_page_never_shows_flags_or_complaints(client, flagged):
    flag, complaints, demo = flagged
    login(client, demo, "officer")
    response = client.get("/staff/me")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert element(html, "officer-flags") is None
    assert element(html, "nav-flags") is None
    for c in complaints:
        assert c.number not in html
    assert "预警" not in text_of(html)
    assert client.get("/staff/flags").status_code == 403
    assert client.get("/staff/intervention").status_code == 403


# --------------------------------------------------------------------------- settings


def test_settings_show_the_rule_that_applies_and_save(client, staff):
    login(client, staff, "leader")
    html = client.get("/staff/intervention").get_data(as_text=True)
    assert value_of(html, "threshold") == "3" and value_of(html, "months") == "12"
    assert "默认设置" in text_of(element(html, "current-rule"))
    cats = [c.code for c in organ("BJ-CY").pack.categories]
    for code in cats:
        assert f'value="{code}"' in element(html, "repeat_categories")
    response = client.post("/staff/intervention", data={
        "threshold": "4", "months": "6", "repeat_categories": [cats[2], cats[1]]},
        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert any("已保存" in m for m in flashes(html))
    assert value_of(html, "threshold") == "4" and value_of(html, "months") == "6"
    assert "本机关的设置" in text_of(element(html, "current-rule"))
    db.session.rollback()
    row = db.session.get(InterventionRule, organ("BJ-CY").id)
    assert (row.threshold, row.months, row.repeat_categories) == (4, 6, [cats[1], cats[2]])
    for i in (1, 2):
        assert re.search(rf'value="{cats[i]}"[^>]*checked|checked[^>]*value="{cats[i]}"',
                         html)


def test_settings_errors_beside_the_fields_with_the_typing_kept(client, staff):
    login(client, staff, "leader")
    response = client.post("/staff/intervention", data={
        "threshold": "1", "months": "零", "repeat_categories": ["nonsense"]})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_errors(field_box(html, "threshold")) == ["请填写 2 到 99 之间的整数"]
    assert field_errors(field_box(html, "months")) == ["请填写 1 到 120 之间的整数"]
    box = element(html, "repeat_categories")
    assert box is not None
    assert "请从本机关适用的投诉类别中选择" in text_of(html)
    assert value_of(html, "threshold") == "1" and value_of(html, "months") == "零"
    db.session.rollback()
    assert db.session.get(InterventionRule, organ("BJ-CY").id) is None


def test_a_lower_organ_inherits_and_only_its_own_leaders_or_an_admin_configure(client,
                                                                                 staff):
    with unit_of_work():
        db.session.add(InterventionRule(organ_id=organ("BJ").id, threshold=5, months=6,
                                        repeat_categories=[]))
    slt = client.application.test_client()
    login(slt, staff, "slt-leader")
    html = slt.get("/staff/intervention").get_data(as_text=True)
    assert "北京市公安局" in text_of(element(html, "current-rule"))
    assert value_of(html, "threshold") == "5"

    login(client, staff, "leader")  # 朝阳's leader: not BJ, not 三里屯
    for code in ("BJ", "BJ-CY-SLT"):
        assert client.get(f"/staff/intervention?organ={organ(code).id}").status_code == 403
        assert client.post(f"/staff/intervention?organ={organ(code).id}",
                           data={"threshold": "2", "months": "1"}).status_code == 403

    admin = client.application.test_client()
    login(admin, staff, "admin")
    wuhua = organ("YN-KM-WH")
    page = admin.get(f"/staff/intervention?organ={wuhua.id}").get_data(as_text=True)
    assert element(page, "choose-organ") is not None
    yn_codes = [c.code for c in wuhua.pack.categories]
    assert f'value="{yn_codes[-1]}"' in element(page, "repeat_categories")
    response = admin.post(f"/staff/intervention?organ={wuhua.id}", data={
        "threshold": "2", "months": "3", "repeat_categories": [yn_codes[0]]})
    assert response.status_code == 302
    db.session.rollback()
    assert db.session.get(InterventionRule, wuhua.id).threshold == 2


@pytest.mark.parametrize("who", ["inspector", "intake", "bj_leader"])
def test_others_may_not_open_the_settings_of_chaoyang(client, staff, who):
    login(client, staff, who)
    assert client.get(f"/staff/intervention?organ={organ('BJ-CY').id}").status_code == 403


# --------------------------------------------------------------------------- paging


def _flag_ids(html: str, within: str | None = None) -> list[int]:
    if within is not None:
        html = element(html, within) or ""
    return [int(i) for i in re.findall(r'<tr id="flag-(\d+)">', html)]


@pytest.fixture
def many_flags(staff):
    """33 flags on 朝阳's list: 27 open (every third raised the same minute as the one
    before: ties), 6 cleared within the last 90 days; besides them one cleared long ago
    and one at 海淀, neither on 朝阳's list. Returns (open ids, cleared ids) in the
    list's order, worked out here, and the logins."""
    now = utcnow()
    chaoyang, haidian = organ("BJ-CY"), organ("BJ-HD")
    wang, li = officer("BJ10001"), officer("BJ10002")
    leader = user("leader")
    flags = []
    with unit_of_work():
        for i in range(27):
            flags.append(OfficerFlag(officer_id=(wang, li)[i % 2].id, organ_id=chaoyang.id,
                                     kind="count", complaint_ids=[],
                                     flagged_at=now - days(40) + days(i - i % 3 // 2)))
        for i in range(6):
            flags.append(OfficerFlag(officer_id=wang.id, organ_id=chaoyang.id, kind="count",
                                     complaint_ids=[], flagged_at=now - days(100 + i),
                                     cleared_at=now - days(10 + i), cleared_by_id=leader.id,
                                     clear_note=f"已约谈{i}"))
        flags.append(OfficerFlag(officer_id=wang.id, organ_id=chaoyang.id, kind="count",
                                 complaint_ids=[], flagged_at=now - days(200),
                                 cleared_at=now - days(95), cleared_by_id=leader.id,
                                 clear_note="早已解除"))
        flags.append(OfficerFlag(officer_id=li.id, organ_id=haidian.id, kind="count",
                                 complaint_ids=[], flagged_at=now))
        db.session.add_all(flags)
    newest_first = sorted(flags[:33], key=lambda f: (f.flagged_at, f.id), reverse=True)
    return ([f.id for f in newest_first if f.cleared_at is None],
            [f.id for f in newest_first if f.cleared_at is not None], staff)


def test_flags_are_paged_open_first_with_nothing_lost(client, many_flags):
    open_ids, cleared_ids, logins = many_flags
    assert len(open_ids) == 27 and len(cleared_ids) == 6
    login(client, logins, "leader")
    first = client.get("/staff/flags").get_data(as_text=True)
    second = client.get(pager_links(first)["next"]).get_data(as_text=True)
    assert pager_links(first) == {"next": "/staff/flags?page=2"}
    assert pager_links(second) == {"prev": "/staff/flags?page=1"}
    page1, page2 = _flag_ids(first), _flag_ids(second)
    assert len(page1) == 25 and not set(page1) & set(page2)
    assert page1 + page2 == open_ids + cleared_ids
    # The first page is all open flags: no (empty) cleared section on it. The second
    # ends the open ones and holds the cleared; both headings count every open flag.
    assert _flag_ids(first, "open-flags") == open_ids[:25]
    assert element(first, "cleared-flags") is None
    assert _flag_ids(second, "open-flags") == open_ids[25:]
    assert _flag_ids(second, "cleared-flags") == cleared_ids
    for html, number in ((first, 1), (second, 2)):
        assert text_of(element(html, "flag-total")) == "（共 33 条）"
        assert "待处理的预警（27）" in text_of(element(html, "open-flags"))
        assert f"{number} / 2" in text_of(element(html, "pager"))
    assert "早已解除" not in first + second


@pytest.mark.parametrize("page, shown", [("abc", 1), ("-1", 1), ("0", 1), ("2", 2),
                                         ("7", 2), ("99999999999999999999", 2)])
def test_flags_take_any_page_number(client, many_flags, page, shown):
    open_ids, cleared_ids, logins = many_flags
    login(client, logins, "leader")
    response = client.get(f"/staff/flags?page={page}")
    assert response.status_code == 200
    listed = open_ids + cleared_ids
    assert _flag_ids(response.get_data(as_text=True)) == listed[(shown - 1) * 25:shown * 25]


def test_a_link_to_one_flag_opens_its_page(client, many_flags):
    open_ids, cleared_ids, logins = many_flags
    login(client, logins, "leader")
    late = open_ids[26]  # the oldest open flag, on the second page
    html = client.get(f"/staff/flags?flag={late}").get_data(as_text=True)
    assert late in _flag_ids(html, "open-flags") and "2 / 2" in text_of(element(html, "pager"))
    html = client.get(f"/staff/flags?flag={open_ids[0]}").get_data(as_text=True)
    assert _flag_ids(html) == open_ids[:25]
    # Not on this leader's list (or no such flag): the first page.
    for other in (max(open_ids + cleared_ids) + 1, max(open_ids + cleared_ids) + 2, "x"):
        assert _flag_ids(client.get(f"/staff/flags?flag={other}").get_data(
            as_text=True)) == open_ids[:25]
    # The officer's record links there.
    record = client.get(f"/staff/officers/{officer(BADGE).id}").get_data(as_text=True)
    assert f'href="/staff/flags?flag={late}#flag-{late}"' in element(record, "officer-flags")


def test_clearing_on_the_second_page_returns_to_it(client, many_flags):
    open_ids, cleared_ids, logins = many_flags
    login(client, logins, "leader")
    target = open_ids[25]
    html = client.get("/staff/flags?page=2").get_data(as_text=True)
    assert f'action="/staff/flags/{target}/clear?page=2"' in element(html, f"flag-{target}")
    response = client.post(f"/staff/flags/{target}/clear?page=2", data={"note": " "})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    [error] = field_errors(field_box(html, f"note-{target}"))
    assert "请填写解除预警的说明" in error
    response = client.post(f"/staff/flags/{target}/clear?page=2", data={"note": "已谈话。"})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/flags?page=2"
    assert _flag(target).cleared_at is not None
    html = client.get("/staff/flags?page=2").get_data(as_text=True)
    assert "待处理的预警（26）" in text_of(element(html, "open-flags"))
    assert target in _flag_ids(html, "cleared-flags")


def _statements(client, url: str) -> tuple[str, list[str]]:
    """A page's HTML and the SQL statements it ran, flattened and lower-cased."""
    with sql_statements() as seen:
        response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True), seen


def test_a_page_of_flags_reads_a_page_and_counts_once(client, many_flags):
    """Page 2 (open and cleared flags) costs what page 1 (open ones only) does; the total
    and the open count are one COUNT, the flags are read a page at a time."""
    _open_ids, _cleared_ids, logins = many_flags
    login(client, logins, "leader")
    client.get("/staff/flags")  # warm the per-process caches first
    runs = [_statements(client, f"/staff/flags?page={page}") for page in (1, 2)]
    assert len(runs[0][1]) == len(runs[1][1])
    for (html, statements), shown in zip(runs, (25, 8), strict=True):
        assert len(_flag_ids(html)) == shown
        totals = [s for s in statements if s.startswith("select count(officer_flag.id)")
                  and "count(case when" in s]
        assert len(totals) == 1
        [listed] = [s for s in statements if s.startswith("select officer_flag.id")]
        assert "limit" in listed and "offset" in listed
