"""The queue shows each case's nearest statutory deadline and marks overdue ones; notices
are headed with the organ's full name."""

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from helpers import login, make_complaint, organ, sql_statements
from webhelpers import pager_links

from oversight.extensions import db
from oversight.models import Notice
from oversight.models.base import utcnow
from oversight.services import registry
from workflows.clocks import to_local


def test_queue_shows_nearest_deadline_and_overdue(client, demo):
    fresh, _ = make_complaint()
    late, _ = make_complaint(now=utcnow() - dt.timedelta(days=20))
    login(client, demo, "intake")
    html = client.get("/staff/").get_data(as_text=True)
    rows = {m.group(1): m.group(0) for m in re.finditer(
        r"<tr>\s*<td[^>]*><a href=\"[^\"]+\">(TS\d+)</a>.*?</tr>", html, re.S)}
    due_fresh = to_local(utcnow() + dt.timedelta(days=15)).strftime("%Y-%m-%d")
    assert due_fresh in rows[fresh.number] and "已超期" not in rows[fresh.number]
    assert "已超期" in rows[late.number]


def test_queue_query_count_does_not_grow_with_rows(client, demo):
    login(client, demo, "intake")
    client.get("/staff/")  # warm the per-process caches (the organ tree) first
    counts = []
    for _ in range(2):
        for _ in range(3):
            make_complaint()
        with sql_statements() as statements:
            assert client.get("/staff/").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_notice_is_headed_with_the_full_organ_name(demo):
    from helpers import user

    from oversight.services import workflow
    from oversight.services.uow import unit_of_work

    case, _ = make_complaint()
    with unit_of_work():
        workflow.fire(case, "accept", user("intake"))
    body = db.session.execute(sa.select(Notice.body)).scalar_one()
    assert body.startswith("北京市公安局朝阳分局\n")


def test_todo_lists_what_waits_for_this_role_oldest_first(client, demo):
    from helpers import user

    from oversight.services import workflow
    from oversight.services.uow import unit_of_work

    older, _ = make_complaint(now=utcnow() - dt.timedelta(days=3))
    newer, _ = make_complaint()
    untouched, _ = make_complaint()
    for case in (older, newer):
        for trigger, who, data in (
                ("accept", "intake", {}),
                ("propose_conclusion", "inspector",
                 {"finding": "partly", "facts": "部分属实", "handling": "批评教育"})):
            with unit_of_work():
                workflow.fire(case, trigger, user(who), data)
    login(client, demo, "leader")
    html = client.get("/staff/?state=todo").get_data(as_text=True)
    assert "待我处理 2 件" in html and "（共 2 件）" in html  # the list is the 待我处理
    assert html.index(older.number) < html.index(newer.number)
    assert untouched.number not in html.split("</thead>", 1)[1]
    # narrowed to an organ, the list is counted on its own; the 待我处理 stays the scope's
    station = organ("BJ-CY-SLT")
    html = client.get(f"/staff/?state=todo&organ={station.id}").get_data(as_text=True)
    assert "待我处理 2 件" in html and "（共 0 件）" in html
    # every type's to-do list counts what its 待我处理 says (none awaits the role: 0)
    for kind in registry.case_types():
        html = client.get(f"/staff/?type={kind}&state=todo").get_data(as_text=True)
        todo = re.search(r"待我处理 (\d+) 件", html).group(1)
        assert f"（共 {todo} 件）" in html, kind


# --------------------------------------------------------------------------- deadlines pages


def _due_rows(html: str) -> list[tuple[str, str]]:
    """The rows of the deadline list, in order, as (class, "number-kind")."""
    return re.findall(r'<tr class="([^"]*)" id="due-([^"]+)">', html)


def _due_ids(html: str) -> list[str]:
    return [key for _cls, key in _due_rows(html)]


def _expected_due(leader, overdue_only: bool = False, organ_id: int | None = None
                  ) -> list[str]:
    """What the list should show, worked out here from the clocks themselves: running
    complaint clocks of the leader's subtree due within three days (or past due), most
    urgent first, ties by clock id."""
    from oversight.models import CaseClock, ClockOutcome, Complaint, Organ

    horizon = utcnow() + (dt.timedelta() if overdue_only else dt.timedelta(days=3))
    within = db.session.get(Organ, organ_id).path if organ_id else leader.organ.path
    rows = db.session.execute(
        sa.select(CaseClock, Complaint.number, Organ.path)
        .join(Complaint, sa.and_(CaseClock.case_type == "complaint",
                                 CaseClock.case_id == Complaint.id))
        .join(Organ, Complaint.organ_id == Organ.id)
        .where(CaseClock.outcome == ClockOutcome.RUNNING)).all()
    listed = sorted((clock.due_at, clock.id, f"{number}-{clock.kind}")
                    for clock, number, path in rows
                    if clock.due_at <= horizon and clock.paused_at is None
                    and path.startswith(within))
    return [key for _due, _id, key in listed]


@pytest.fixture
def many_due(demo):
    """34 running clocks in 朝阳's subtree: 8 long overdue at 三里屯 (朝阳's child), 20
    overdue at 朝阳 all due the same minute (ties across the page break), 6 due soon; one
    overdue at 海淀 (a sibling: not 朝阳's leader's); and one not yet due soon."""
    from helpers import days, organ

    for _ in range(8):
        make_complaint(now=utcnow() - days(25), organ_id=organ("BJ-CY-SLT").id)
    same = utcnow() - days(20)
    for _ in range(20):
        make_complaint(now=same)
    for _ in range(6):
        make_complaint(now=utcnow() - days(13))
    make_complaint(now=same, organ_id=organ("BJ-HD").id)
    make_complaint()  # due in 15 days: not listed
    return demo


def test_deadlines_are_paged_most_urgent_first_with_nothing_lost(client, many_due):
    from helpers import organ, user
    from webhelpers import element, text_of

    from oversight.models import Complaint

    expected = _expected_due(user("leader"))
    assert len(expected) == 34
    login(client, many_due, "leader")
    first = client.get("/staff/deadlines").get_data(as_text=True)
    with sql_statements() as statements:
        second = client.get("/staff/deadlines?page=2").get_data(as_text=True)
    assert any(s.endswith("limit 25 offset 25") for s in statements), statements
    page1, page2 = _due_ids(first), _due_ids(second)
    assert len(page1) == 25 and len(page2) == 9
    assert not set(page1) & set(page2)
    assert page1 + page2 == expected  # complete, in order, ties broken the same way
    for number, html in ((1, first), (2, second)):
        assert text_of(element(html, "deadline-total")) == "（共 34 条）"
        assert f"{number} / 2" in text_of(element(html, "pager"))
    assert pager_links(first) == {"next": "/staff/deadlines?page=2"}
    assert pager_links(second) == {"prev": "/staff/deadlines?page=1"}
    # The overdue ones lead (三里屯's, the oldest, first); the six due soon come last.
    classes = [cls for cls, _key in _due_rows(first) + _due_rows(second)]
    assert classes == ["overdue"] * 28 + ["due-soon"] * 6
    slt = {c.number for c in db.session.execute(sa.select(Complaint).where(
        Complaint.organ_id == organ("BJ-CY-SLT").id)).scalars()}
    assert {key.split("-")[0] for key in page1[:8]} == slt


def test_deadline_filters_survive_paging(client, many_due):
    from helpers import organ, user

    chaoyang = organ("BJ-CY").id
    expected = _expected_due(user("leader"), overdue_only=True, organ_id=chaoyang)
    assert len(expected) == 28
    login(client, many_due, "leader")
    first = client.get(f"/staff/deadlines?show=overdue&organ={chaoyang}").get_data(
        as_text=True)
    next_url = pager_links(first)["next"]
    assert next_url.startswith("/staff/deadlines?")
    assert sorted(next_url.split("?", 1)[1].split("&")) == \
        sorted(["page=2", "show=overdue", f"organ={chaoyang}"])
    second = client.get(next_url).get_data(as_text=True)
    assert "（共 28 条）" in second
    assert _due_ids(first) + _due_ids(second) == expected
    assert 'class="due-soon"' not in second
    prev_url = pager_links(second)["prev"]
    assert "show=overdue" in prev_url and f"organ={chaoyang}" in prev_url
    # Only 三里屯's: one page, no pager.
    slt = client.get(f"/staff/deadlines?organ={organ('BJ-CY-SLT').id}").get_data(as_text=True)
    assert len(_due_ids(slt)) == 8 and "（共 8 条）" in slt
    assert 'id="pager"' not in slt


@pytest.mark.parametrize("page, shown", [("abc", 1), ("-1", 1), ("0", 1), ("", 1),
                                         ("2", 2), ("3", 2), ("99999999999999999999", 2),
                                         ("1.5", 1)])
def test_deadlines_take_any_page_number(client, many_due, page, shown):
    from helpers import user

    expected = _expected_due(user("leader"))
    login(client, many_due, "leader")
    response = client.get(f"/staff/deadlines?page={page}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _due_ids(html) == expected[(shown - 1) * 25:shown * 25]
    assert f"{shown} / 2" in html


def test_deadlines_of_the_upper_organ_and_their_statement_count(client, many_due):
    """市局's leader sees 海淀's too; a second page costs what the first does."""
    from helpers import user

    expected = _expected_due(user("bj_leader"))
    assert len(expected) == 35
    login(client, many_due, "bj_leader")
    client.get("/staff/deadlines")  # warm the per-process caches (the organ tree) first
    counts = []
    pages = []
    for page in (1, 2):
        with sql_statements() as statements:
            response = client.get(f"/staff/deadlines?page={page}")
        assert response.status_code == 200
        pages.append(_due_ids(response.get_data(as_text=True)))
        counts.append(len(statements))
        # The total is one COUNT; the clocks are read a page at a time.
        assert len([s for s in statements if "count(" in s and "case_clock" in s]) == 1
        [clocks] = [s for s in statements if s.startswith("select case_clock.id")]
        assert "limit" in clocks and "offset" in clocks
    assert pages[0] + pages[1] == expected
    assert counts[0] == counts[1], counts


def test_the_queue_pages_with_the_shared_pager(client, demo):
    """The queue uses the same paging: 27 cases are 25 and 2, newest first, its filters
    in the links, a page past the end is the last one."""
    made = [make_complaint(now=utcnow() - dt.timedelta(minutes=i))[0].number
            for i in range(27)]
    login(client, demo, "intake")
    first = client.get("/staff/?type=complaint&state=submitted").get_data(as_text=True)
    numbers = re.compile(r'<td data-label="编号"><a href="[^"]+">(TS\d+)</a>')
    links = pager_links(first)
    assert sorted(links["next"].split("?", 1)[1].split("&")) == \
        ["page=2", "state=submitted", "type=complaint"]
    with sql_statements() as statements:
        second = client.get(links["next"]).get_data(as_text=True)
    # The page's bounds are numbers in the SQL, not parameters: with them SQLite plans a
    # page of rare states from the (organ_id, state) index (storage.page_of).
    assert any(s.endswith("limit 25 offset 25") for s in statements), statements
    assert numbers.findall(first) + numbers.findall(second) == made
    assert len(numbers.findall(first)) == 25
    assert "（共 27 件）" in second and "2 / 2" in second
    for page in ("9", "x"):
        html = client.get(f"/staff/?type=complaint&state=submitted&page={page}").get_data(
            as_text=True)
        assert numbers.findall(html) == (made[25:] if page == "9" else made[:25])


def test_the_queue_ignores_an_organ_filter_beyond_any_id(client, demo):
    """An organ number too large for the database is no organ: the queue answers, unfiltered."""
    make_complaint()
    login(client, demo, "intake")
    response = client.get("/staff/?type=complaint&organ=99999999999999999999")
    assert response.status_code == 200
    assert "（共 1 件）" in response.get_data(as_text=True)


def test_the_queue_counts_its_list_and_its_badges_in_one_statement(client, demo):
    """The list's total and 待我处理 of every case type cost one round trip together, read
    from the kept counts: no statement counts cases."""
    for _ in range(3):
        make_complaint()
    login(client, demo, "intake")
    client.get("/staff/")  # warm the per-process caches (the organ tree) first
    with sql_statements() as statements:
        html = client.get("/staff/?type=complaint&state=open").get_data(as_text=True)
    assert "（共 3 件）" in html and "待我处理 3 件" in html
    counting = [s for s in statements if "case_count" in s]
    assert len(counting) == 1, counting
    assert counting[0].count("sum(case_count.n)") >= 2
    assert not [s for s in statements if "count(" in s and "count(organ.id)" not in s]
