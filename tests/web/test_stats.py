"""The staff statistics dashboard: every figure against a hand-computed fixture, the CSV
export, organ scope (a sibling organ never counts, an upper organ sees its subtree), the
Beijing month boundary, and a statement count that does not grow with the data."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from helpers import login, make_complaint, organ, sql_statements
from investigation_helpers import add_user, officer
from webhelpers import (
    drive_to_notified,
    element,
    field_box,
    field_errors,
    isolate_requests,
    text_of,
)

import oversight.web.public.transparency as transparency_page
import oversight.web.staff.stats as stats_page
from oversight.cli import refresh_stats_command
from oversight.config import build_config
from oversight.extensions import db
from oversight.models import (
    CaseClock,
    CaseEvent,
    ClockOutcome,
    ComplainantIdentity,
    Complaint,
    Investigation,
    Recusal,
    StatsSnapshot,
    Suspension,
)
from oversight.models.base import utcnow
from oversight.services import registry
from oversight.services import stats as stats_service
from oversight.services.stats import local_bounds, percentile
from oversight.services.uow import unit_of_work
from workflows.complaint import ComplaintState
from workflows.investigation import InvestigationState
from workflows.recusal import RecusalState
from workflows.roles import Role
from workflows.suspension import SuspensionState

UTC = dt.UTC
_numbers = itertools.count(1)


def at(text: str) -> dt.datetime:
    """A UTC instant from ``2026-10-31T17:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- direct inserts with explicit timestamps ----------------------------------------------


def add_complaint(organ_code: str, created: str, state: str = "submitted", *,
                  category: str = "uncivil", finding: str | None = None,
                  notices: tuple[str, ...] = (), clocks=()) -> Complaint:
    """A complaint as the services leave it, with its outcome-notice events at ``notices``
    and its clocks ``(kind, outcome, due_at)``. Personal data is filled in so that pages
    can be checked never to show it."""
    with unit_of_work():
        c = Complaint(number=f"TS2026{next(_numbers):06d}", organ_id=organ(organ_code).id,
                      state=state, kind="complaint", category_code=category,
                      officer_id=officer("BJ10001").id, officer_badge_text="BJ10001",
                      narrative="辅警态度蛮横，辱骂群众。", access_code_hash="x",
                      finding=finding, created_at=at(created))
        db.session.add(c)
        db.session.flush()
        db.session.add(ComplainantIdentity(complaint_id=c.id, name="王小明",
                                           phone="13800138000", email="wang@example.com"))
        for seq, when in enumerate(notices, start=1):
            db.session.add(event_row("complaint", c.id, seq, "issue_notice", at(when)))
        for kind, outcome, due in clocks:
            db.session.add(clock_row(c, kind, outcome, due))
    return c


def event_row(case_type: str, case_id: int, seq: int, trigger: str, when: dt.datetime):
    return CaseEvent(case_type=case_type, case_id=case_id, seq=seq, at=when,
                     actor_role=Role.INTAKE, trigger=trigger, from_state="concluded",
                     to_state="notified", payload={}, prev_hash="0" * 64, hash="1" * 64)


def clock_row(case, kind: str, outcome: str, due: dt.datetime):
    return CaseClock(case_type=case.case_type, case_id=case.id, organ_id=case.organ_id,
                     kind=kind,
                     started_at=due - dt.timedelta(days=15), due_at=due,
                     outcome=ClockOutcome(outcome), amount=15, unit="calendar_days",
                     citation="信访工作条例 第二十二条")


def add_investigation(organ_code: str, created: str, state: str = "investigating",
                      concluded: str | None = None, lead: str = "inspector") -> Investigation:
    from helpers import user

    finding = {"violation": "substantiated", "cleared": "unfounded"}.get(state)
    with unit_of_work():
        inv = Investigation(number=f"DC2026{next(_numbers):06d}",
                            organ_id=organ(organ_code).id, state=state, origin="initiative",
                            subject="执勤中态度粗暴", lead_id=user(lead).id,
                            complaint_finding=finding, created_at=at(created),
                            concluded_at=at(concluded) if concluded else None)
        db.session.add(inv)
    return inv


def add_recusal(organ_code: str, created: str, state: str, clocks=()) -> Recusal:
    with unit_of_work():
        r = Recusal(number=f"HB2026{next(_numbers):06d}", organ_id=organ(organ_code).id,
                    state=state, origin="public", applicant_role="party",
                    officer_id=officer("BJ10001").id, matter_ref="京公（朝）行罚决字123号",
                    ground_text="与当事人有利害关系", facts="该辅警是对方亲属。",
                    earlier_acts_stand=True if state == "granted" else None,
                    created_at=at(created))
        db.session.add(r)
        db.session.flush()
        for kind, outcome, due in clocks:
            db.session.add(clock_row(r, kind, outcome, due))
    return r


def add_suspension(organ_code: str, badge: str, created: str, state: str,
                   ends_at: dt.datetime | None = None) -> Suspension:
    with unit_of_work():
        s = Suspension(number=f"ZT2026{next(_numbers):06d}", organ_id=organ(organ_code).id,
                       state=state, officer_id=officer(badge).id, reason="调查期间暂停履职",
                       started_at=at(created), ends_at=ends_at, created_at=at(created))
        db.session.add(s)
    return s


# --- the fixture ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)


@pytest.fixture(autouse=True)
def _computed_each_time(app):
    """The figures are computed on every request here, so that each test sees what it
    just added; keeping them (STATS_CACHE_SECONDS) has tests of its own."""
    app.config["STATS_CACHE_SECONDS"] = 0


@pytest.fixture
def cases(demo):
    """朝阳分局 (BJ-CY) and its 三里屯派出所 (BJ-CY-SLT), with a sibling 海淀分局 (BJ-HD)
    whose cases must never reach a 朝阳 user. Expected figures are worked out in each test."""
    now = utcnow()
    past, future = now - dt.timedelta(days=1), now + dt.timedelta(days=10)
    # Complaints in scope. C1 is filed 2026-11-01 01:00 Beijing time (October in UTC).
    add_complaint("BJ-CY", "2026-10-31T17:00", "notified", category="uncivil",
                  finding="substantiated", notices=("2026-11-11T02:00",),  # 10 days
                  clocks=(("acknowledge", "met", past), ("conclude", "met", past)))
    add_complaint("BJ-CY", "2026-10-31T15:59", "notified", category="uncivil",
                  finding="partly", notices=("2026-11-03T01:00",),  # 3 days
                  clocks=(("acknowledge", "breached", past),))
    # Reopened after review and told twice: the first notice counts (20 days).
    add_complaint("BJ-CY-SLT", "2026-11-05T04:00", "closed", category="dereliction",
                  finding="unfounded", notices=("2026-11-25T04:00", "2026-12-20T04:00"),
                  clocks=(("review_answer", "cancelled", past),))
    add_complaint("BJ-CY", "2026-09-10T04:00", "submitted", category="dereliction",
                  clocks=(("acknowledge", "running", past),))
    add_complaint("BJ-CY", "2026-11-20T04:00", "concluded", category="other",
                  finding="unsubstantiated", clocks=(("conclude", "running", future),))
    # Investigations: 15 days; 6 days (concluded 2026-11-16 01:30 Beijing); still open.
    add_investigation("BJ-CY", "2026-11-01T02:00", "violation", "2026-11-16T02:00")
    add_investigation("BJ-CY-SLT", "2026-11-10T02:00", "cleared", "2026-11-15T17:30")
    add_investigation("BJ-CY", "2026-11-12T02:00")
    add_recusal("BJ-CY", "2026-10-05T02:00", "granted",
                clocks=(("recusal_decide", "met", past),))
    add_recusal("BJ-CY", "2026-10-06T02:00", "denied")
    add_recusal("BJ-CY", "2026-11-07T02:00", "denied_final")
    add_recusal("BJ-CY", "2026-11-08T02:00", "filed")
    add_suspension("BJ-CY", "BJ10001", "2026-11-03T02:00", "active", future)
    add_suspension("BJ-CY-SLT", "BJ10002", "2026-11-04T02:00", "active", past)  # expired
    add_suspension("BJ-CY", "BJ10001", "2026-10-20T02:00", "lifted")
    # The sibling organ: one case of each kind, all of which would change every figure.
    add_user("hd_leader", Role.LEADER, "BJ-HD")
    add_user("hd_inspector", Role.INSPECTOR, "BJ-HD")
    add_complaint("BJ-HD", "2026-11-02T02:00", "notified", category="secrets",
                  finding="substantiated", notices=("2026-11-04T02:00",),
                  clocks=(("acknowledge", "breached", past),))
    add_investigation("BJ-HD", "2026-08-01T02:00", "violation", "2026-11-09T02:00",
                      lead="hd_inspector")
    add_recusal("BJ-HD", "2026-11-02T02:00", "granted")
    add_suspension("BJ-HD", "BJ10003", "2026-11-02T02:00", "active", future)


def type_label(name: str) -> str:
    return registry.spec_for(name).label


def table_rows(html: str, name: str) -> list[list[str]]:
    table = element(html, f"table-{name}")
    assert table is not None, name
    body = table[table.index("<tbody>"):]
    return [[text_of(cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def figure(html: str, fig_id: str) -> str:
    return text_of(element(html, fig_id)).strip()


def get_stats(client, demo, username: str, passwords: dict | None = None, **args):
    login(client, passwords or demo, username)
    response = client.get("/staff/stats", query_string=args)
    return response, response.get_data(as_text=True)


# --- the figures ----------------------------------------------------------------------------


def test_every_figure_matches_the_hand_count(client, demo, cases):
    response, html = get_stats(client, demo, "leader")  # 朝阳分局: itself and 三里屯
    assert response.status_code == 200
    # Beijing months: C4 Sep; C2 (15:59Z = 23:59), R1, R2, S3 Oct; the other ten Nov.
    assert table_rows(html, "month") == [["2026-09", "1"], ["2026-10", "4"], ["2026-11", "10"]]
    assert table_rows(html, "type") == [
        [type_label(name), str({"complaint": 5, "investigation": 3, "recusal": 4,
                                "suspension": 3}.get(name, 0))]
        for name in registry.case_types()]
    assert table_rows(html, "category") == [["不规范、不文明履职", "2"],
                                            ["不忠于职守、不尽责", "2"], ["其他", "1"]]
    assert table_rows(html, "organ") == [["朝阳分局", "12"], ["三里屯派出所", "3"]]
    expected_states = {
        ("complaint", ComplaintState.NOTIFIED): 2, ("complaint", ComplaintState.CLOSED): 1,
        ("complaint", ComplaintState.SUBMITTED): 1, ("complaint", ComplaintState.CONCLUDED): 1,
        ("investigation", InvestigationState.VIOLATION): 1,
        ("investigation", InvestigationState.CLEARED): 1,
        ("investigation", InvestigationState.INVESTIGATING): 1,
        ("recusal", RecusalState.GRANTED): 1, ("recusal", RecusalState.DENIED): 1,
        ("recusal", RecusalState.DENIED_FINAL): 1, ("recusal", RecusalState.FILED): 1,
        ("suspension", SuspensionState.ACTIVE): 2, ("suspension", SuspensionState.LIFTED): 1,
    }
    assert sorted(table_rows(html, "state")) == sorted(
        [type_label(name), state.label, str(n)] for (name, state), n in expected_states.items())
    # Handling days: complaints [3, 10, 20] -> median 10, p90 10 + 0.8 * 10 = 18;
    # investigations [6, 15] -> median 10.5, p90 6 + 0.9 * 9 = 14.1.
    handling = table_rows(html, "handling")
    assert [row[1:] for row in handling] == [["3", "10.0", "18.0"], ["2", "10.5", "14.1"]]
    assert figure(html, "fig-complaint-median") == "10.0"
    assert figure(html, "fig-investigation-median") == "10.5"
    # Clocks: late = C2 breached + C4 running past due = 2; counted = those 2 + met 3
    # (C1 twice, R1); C3's cancelled and C5's still-in-time clocks are not counted.
    # Substantiated: C1 属实 + C2 部分属实 of four complaints with a finding.
    assert table_rows(html, "rates") == [
        ["超期率", "2", "5", "40.0%"], ["查实率", "2", "4", "50.0%"],
        ["回避申请准予", "1", "", ""], ["回避申请驳回（含复议维持）", "2", "", ""],
        ["当前暂停履职", "1", "", ""]]
    assert figure(html, "fig-overdue") == "40.0%"
    assert figure(html, "fig-substantiated") == "50.0%"
    assert figure(html, "fig-recusals") == "1 / 2"
    assert figure(html, "fig-suspended") == "1"
    # Charts are inline SVG drawn on the server, one bar per row, scaled to the largest.
    chart = element(html, "chart-month")
    assert chart.startswith("<svg") and 'viewBox="0 0 400' in chart and 'width="100%"' in chart
    assert re.findall(r'<rect[^>]*width="([\d.]+)"', chart) == ["33.0", "132.0", "330.0"]
    assert "<script" not in html.split("</main>")[0]


def test_late_clocks_counted_by_organ_or_through_the_dated_cases_agree(client, demo, cases):
    """Without dates the clocks are counted by their own organ; with dates, through the
    cases created in them. Dates that hold every case give the same figures."""
    _response, undated = get_stats(client, demo, "leader")
    _response, dated = get_stats(client, demo, "leader", date_from="2000-01-01",
                                 date_to="2099-12-31")
    assert table_rows(undated, "rates")[0] == table_rows(dated, "rates")[0] \
        == ["超期率", "2", "5", "40.0%"]
    # November (Beijing time) keeps C1's two met clocks; C2 (filed on 31 October), C4
    # (September) and R1 (October) drop out with their late and met clocks.
    _response, november = get_stats(client, demo, "leader", date_from="2026-11-01",
                                    date_to="2026-11-30")
    assert table_rows(november, "rates")[0] == ["超期率", "0", "2", "0.0%"]


def test_csv_export_is_excel_friendly_and_matches_the_table(client, demo, cases):
    login(client, demo, "leader")
    page = client.get("/staff/stats").get_data(as_text=True)
    links = re.findall(r'class="csv-link" href="([^"]+)"', page)
    assert len(links) == 7 and all("format=csv" in link for link in links)
    response = client.get("/staff/stats?format=csv&table=month")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "charset=utf-8" in response.headers["Content-Type"]
    assert response.headers["Content-Disposition"].startswith('attachment; filename="stats-month')
    assert response.data == ("\ufeff月份,件数\r\n2026-09,1\r\n2026-10,4\r\n2026-11,10\r\n"
                             ).encode("utf-8")
    rates = client.get("/staff/stats?format=csv&table=rates").data.decode("utf-8-sig")
    assert rates.splitlines()[:3] == ["指标,数值,基数,比率", "超期率,2,5,40.0%",
                                      "查实率,2,4,50.0%"]
    handling = client.get("/staff/stats?format=csv&table=handling").data.decode("utf-8-sig")
    assert handling.splitlines()[1].endswith(",3,10.0,18.0")
    assert client.get("/staff/stats?format=csv&table=nope").status_code == 404


def test_filters_narrow_by_beijing_dates_and_by_organ(client, demo, cases):
    # November in Beijing: C1 (filed 2026-10-31 17:00 UTC) is in, C2 (15:59 UTC) is out.
    _response, html = get_stats(client, demo, "leader", date_from="2026-11-01",
                                date_to="2026-11-30")
    assert table_rows(html, "month") == [["2026-11", "10"]]
    assert [row[1:] for row in table_rows(html, "handling")][0] == ["2", "15.0", "19.0"]
    # The CSV links keep the filters.
    assert "date_from=2026-11-01" in re.findall(r'class="csv-link" href="([^"]+)"', html)[0]
    slt = organ("BJ-CY-SLT").id
    _response, html = get_stats(client, demo, "leader", organ_id=str(slt))
    assert table_rows(html, "organ") == [["三里屯派出所", "3"]]
    assert table_rows(html, "month") == [["2026-11", "3"]]
    assert figure(html, "fig-suspended") == "0"  # its suspension has expired
    response, html = get_stats(client, demo, "leader", date_from="2026-12-01",
                               date_to="2026-11-01")
    assert response.status_code == 400
    assert field_errors(field_box(html, "date_to")) == ["结束日期不能早于开始日期"]


def test_a_sibling_organ_never_counts(client, demo, cases):
    hd = add_user("hd_intake", Role.INTAKE, "BJ-HD")
    response, html = get_stats(client, demo, "hd_intake", {"hd_intake": hd[1]})
    assert response.status_code == 200
    assert table_rows(html, "organ") == [["海淀分局", "4"]]
    assert table_rows(html, "month") == [["2026-08", "1"], ["2026-09", "0"], ["2026-10", "0"],
                                         ["2026-11", "3"]]
    assert figure(html, "fig-recusals") == "1 / 0"
    assert "朝阳分局" not in html.split("</header>")[1]
    # Asking for 朝阳 by id is refused beside the field, and nothing of it is counted.
    response, html = get_stats(client, demo, "hd_intake", {"hd_intake": hd[1]},
                               organ_id=str(organ("BJ-CY").id))
    assert response.status_code == 400
    assert field_errors(field_box(html, "organ_id")) == ["请从列表中选择"]
    assert element(html, "table-month") is None
    csv = client.get(f"/staff/stats?format=csv&table=organ&organ_id={organ('BJ-CY').id}")
    assert csv.status_code == 400


def test_an_upper_organ_sees_its_whole_subtree(client, demo, cases):
    _response, html = get_stats(client, demo, "bj_leader")  # 北京市公安局
    assert table_rows(html, "organ") == [["北京市公安局", "0"], ["朝阳分局", "12"],
                                         ["三里屯派出所", "3"], ["海淀分局", "4"]]
    assert sum(int(n) for _m, n in table_rows(html, "month")) == 19
    assert figure(html, "fig-recusals") == "2 / 2"


@pytest.mark.parametrize("username, status", [("admin", 403), ("officer", 403),
                                              ("intake", 200), ("inspector", 200)])
def test_who_may_see_statistics(client, demo, username, status):
    response, _html = get_stats(client, demo, username)
    assert response.status_code == status


def test_month_boundary_is_beijing_time(client, demo):
    """2026-10-31T17:00Z is 2026-11-01 01:00 in Beijing: November, not October."""
    add_complaint("BJ-CY", "2026-10-31T17:00")
    add_complaint("BJ-CY", "2026-10-31T15:59")  # 23:59 on 31 October in Beijing
    _response, html = get_stats(client, demo, "intake")
    assert table_rows(html, "month") == [["2026-10", "1"], ["2026-11", "1"]]
    _response, html = get_stats(client, demo, "intake", date_from="2026-11-01")
    assert table_rows(html, "month") == [["2026-11", "1"]]
    start, end = local_bounds(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert (start, end) == (at("2026-10-31T16:00"), at("2026-11-30T16:00"))


def test_a_complaint_told_through_the_real_services_counts(client, demo):
    complaint, _code = make_complaint()
    drive_to_notified(complaint)
    _response, html = get_stats(client, demo, "leader")
    assert table_rows(html, "handling")[0][1:3] == ["1", "0.0"]
    assert table_rows(html, "rates")[1] == ["查实率", "1", "1", "100.0%"]


def test_percentile_interpolates_like_percentile_cont():
    assert percentile({}, 0.5) is None
    assert percentile({7: 1}, 0.9) == 7
    assert percentile({1: 1, 2: 1, 3: 1, 4: 1}, 0.5) == 2.5
    assert percentile({0: 9, 100: 1}, 0.9) == pytest.approx(10.0)


def _count_statements(app, client) -> int:
    with sql_statements() as statements:
        response = client.get("/staff/stats")
    assert response.status_code == 200
    return len(statements)


def test_statement_count_does_not_grow_with_the_data(app, client, demo, cases):
    login(client, demo, "leader")
    client.get("/staff/stats")  # warm the per-process caches (the organ tree) first
    small = _count_statements(app, client)
    now = utcnow()
    for i in range(12):
        add_complaint("BJ-CY" if i % 2 else "BJ-CY-SLT", f"2026-{1 + i % 9:02d}-15T04:00",
                      "notified", category="uncivil", finding="partly",
                      notices=(f"2026-{1 + i % 9:02d}-{16 + i}T04:00",),
                      clocks=(("acknowledge", "met", now),))
        add_investigation("BJ-CY", f"2026-0{1 + i % 9}-02T02:00", "cleared",
                          f"2026-0{1 + i % 9}-{10 + i}T02:00")
        add_recusal("BJ-CY-SLT", "2026-06-01T02:00", "denied")
    large = _count_statements(app, client)
    assert large == small
    assert small <= 16, small


# --- figures kept for a while (STATS_CACHE_SECONDS) ----------------------------------------

START = at("2026-11-25T17:05")  # 01:05 on 26 November in Beijing


@pytest.fixture
def clock(app, monkeypatch):
    """Figures kept for 60 s; the page's clock stands at START until ``clock.move(s)``
    sets it s seconds after START; ``clock.computed`` lists each computation's time."""
    monkeypatch.setitem(app.config, "STATS_CACHE_SECONDS", 60)
    clock = SimpleNamespace(now=START, computed=[])
    clock.move = lambda seconds: setattr(clock, "now", START + dt.timedelta(seconds=seconds))
    monkeypatch.setattr(stats_page, "utcnow", lambda: clock.now)
    monkeypatch.setattr(transparency_page, "utcnow", lambda: clock.now)
    real = stats_service.dashboard_figures

    def counting(scope, when):
        clock.computed.append(when)
        return real(scope, when)

    monkeypatch.setattr(stats_service, "dashboard_figures", counting)
    return clock


def test_kept_figures_are_never_shared_between_scopes(client, demo, cases, clock):
    """Within the minute every user still gets the figures of their own subtree, for the
    organ and the dates they chose; users of one organ share them."""
    _user, password = add_user("hd_intake", Role.INTAKE, "BJ-HD")
    passwords = {**demo, "hd_intake": password}
    slt = str(organ("BJ-CY-SLT").id)
    cy = [["朝阳分局", "12"], ["三里屯派出所", "3"]]
    for _round in range(2):  # computed, then kept
        _response, html = get_stats(client, passwords, "leader")
        assert table_rows(html, "organ") == cy
        _response, html = get_stats(client, passwords, "hd_intake")
        assert table_rows(html, "organ") == [["海淀分局", "4"]]
        assert "朝阳分局" not in html.split("</header>")[1]
        _response, html = get_stats(client, passwords, "bj_leader")
        assert table_rows(html, "organ") == [["北京市公安局", "0"], *cy, ["海淀分局", "4"]]
        _response, html = get_stats(client, passwords, "leader", organ_id=slt)
        assert table_rows(html, "organ") == [["三里屯派出所", "3"]]
        _response, html = get_stats(client, passwords, "leader", date_from="2026-11-01")
        assert table_rows(html, "month") == [["2026-11", "10"]]
        _response, html = get_stats(client, passwords, "leader", date_to="2026-10-31")
        assert table_rows(html, "month") == [["2026-09", "1"], ["2026-10", "4"]]
        _response, html = get_stats(client, passwords, "inspector")  # 朝阳, as the leader
        assert table_rows(html, "organ") == cy
    assert len(clock.computed) == 6  # once per scope: the inspector shared the leader's


def test_kept_figures_expire_and_the_page_says_when_they_were_computed(client, demo, cases,
                                                                       clock):
    login(client, demo, "leader")
    html = client.get("/staff/stats").get_data(as_text=True)
    assert table_rows(html, "month")[-1] == ["2026-11", "10"]
    assert figure(html, "as-of") == "数据截至 01:05（北京时间）"
    add_complaint("BJ-CY", "2026-11-21T04:00")
    clock.move(59)
    html = client.get("/staff/stats").get_data(as_text=True)
    csv = client.get("/staff/stats?format=csv&table=month").data.decode("utf-8-sig")
    assert clock.computed == [START]
    assert table_rows(html, "month")[-1] == ["2026-11", "10"]  # kept, and said so
    assert figure(html, "as-of") == "数据截至 01:05（北京时间）"
    assert csv.splitlines()[-1] == "2026-11,10"  # the export has the page's figures
    clock.move(60)
    html = client.get("/staff/stats").get_data(as_text=True)
    csv = client.get("/staff/stats?format=csv&table=month").data.decode("utf-8-sig")
    assert len(clock.computed) == 2
    assert table_rows(html, "month")[-1] == ["2026-11", "11"]
    assert figure(html, "as-of") == "数据截至 01:06（北京时间）"
    assert csv.splitlines()[-1] == "2026-11,11"
    clock.move(0)  # a clock set back a minute does not keep them either
    client.get("/staff/stats")
    assert len(clock.computed) == 3


def test_at_most_recent_entries_are_kept(app, client, demo, cases, clock, monkeypatch):
    """A worker draws at most RECENT_ENTRIES figures from memory; others it reads again
    from the shared snapshot (one statement), without counting them again."""
    monkeypatch.setattr(stats_service, "RECENT_ENTRIES", 2)
    login(client, demo, "leader")

    def snapshot_reads(day: str) -> int:
        with sql_statements() as seen:
            assert client.get(f"/staff/stats?date_from={day}").status_code == 200
        return sum("from stats_snapshot" in statement for statement in seen)

    for day in ("2026-09-01", "2026-10-01", "2026-11-01", "2026-11-01", "2026-10-01"):
        snapshot_reads(day)
    assert len(clock.computed) == 3
    assert len(app.extensions["oversight.stats"].entries) == 2
    # 09-01 went, the least recently used: read from the snapshot, in place of 11-01
    assert snapshot_reads("2026-09-01") == 1
    assert snapshot_reads("2026-10-01") == 0
    assert snapshot_reads("2026-11-01") == 1
    assert len(clock.computed) == 3


TABLES = ("month", "type", "category", "organ", "state", "handling", "rates")


def all_tables(html: str) -> dict[str, list[list[str]]]:
    return {name: table_rows(html, name) for name in TABLES}


def another_worker(app) -> None:
    """What a second gunicorn worker, or this one after a restart, lacks: the figures kept
    in its memory. The database (stats_snapshot) is shared."""
    app.extensions.pop("oversight.stats", None)


def snapshot(key: str) -> StatsSnapshot | None:
    db.session.commit()  # a new read transaction, which sees what the workers wrote
    return db.session.get(StatsSnapshot, key)


def cy_key() -> str:
    return f"dashboard|{organ('BJ-CY').path}|||"


def test_figures_are_counted_once_for_every_worker(app, client, demo, cases, clock):
    """A worker that did not count the figures draws them from the shared snapshot, the
    same tables as the worker that counted them, and says when they were counted."""
    login(client, demo, "leader")
    counted = client.get("/staff/stats").get_data(as_text=True)
    assert clock.computed == [START]
    for seconds in (30, 59):
        another_worker(app)
        clock.move(seconds)
        with sql_statements() as seen:
            html = client.get("/staff/stats").get_data(as_text=True)
        assert clock.computed == [START]
        assert all_tables(html) == all_tables(counted)
        assert figure(html, "as-of") == "数据截至 01:05（北京时间）"
        # the snapshot was read; nothing of the cases was
        assert any("from stats_snapshot" in statement for statement in seen)
        assert not any("from complaint" in statement for statement in seen)
    kept = snapshot(cy_key())
    assert (kept.format, kept.computed_at, kept.read_at) == (
        stats_service.SNAPSHOT_FORMAT, START, START)
    # CSV exports read the same kept figures
    another_worker(app)
    csv = client.get("/staff/stats?format=csv&table=organ").data.decode("utf-8-sig")
    assert csv.splitlines()[1:] == ["朝阳分局,12", "三里屯派出所,3"]
    assert clock.computed == [START]


def test_a_snapshot_too_old_or_of_another_layout_is_counted_again(app, client, demo, cases,
                                                                   clock):
    login(client, demo, "leader")
    client.get("/staff/stats")
    add_complaint("BJ-CY", "2026-11-21T04:00")
    another_worker(app)
    clock.move(60)  # as old as STATS_CACHE_SECONDS: counted again, and kept in its place
    html = client.get("/staff/stats").get_data(as_text=True)
    assert table_rows(html, "month")[-1] == ["2026-11", "11"]
    assert clock.computed == [START, clock.now]
    assert snapshot(cy_key()).computed_at == clock.now
    db.session.execute(sa.update(StatsSnapshot).values(format=0))  # an older release's
    db.session.commit()
    another_worker(app)
    client.get("/staff/stats")
    assert len(clock.computed) == 3
    assert snapshot(cy_key()).format == stats_service.SNAPSHOT_FORMAT


def test_older_figures_never_replace_newer_ones(app, client, demo, cases, clock):
    """Two workers that miss at once both count; the one that started later keeps its
    figures, whichever finishes last."""
    login(client, demo, "leader")
    clock.move(30)
    client.get("/staff/stats")
    another_worker(app)
    clock.move(0)  # a slower request that started 30 s earlier, finishing now
    db.session.execute(sa.update(StatsSnapshot).values(computed_at=START + dt.timedelta(
        seconds=100)))  # (make the kept ones too new for this worker to use)
    db.session.commit()
    client.get("/staff/stats")
    assert len(clock.computed) == 2
    assert snapshot(cy_key()).computed_at == START + dt.timedelta(seconds=100)


def test_a_worker_marks_when_figures_were_last_read_at_most_hourly(app, client, demo, cases,
                                                                    clock, monkeypatch):
    monkeypatch.setitem(app.config, "STATS_CACHE_SECONDS", 7200)
    login(client, demo, "leader")
    client.get("/staff/stats")
    for seconds in (1800, 3599):
        another_worker(app)
        clock.move(seconds)
        client.get("/staff/stats")
        assert snapshot(cy_key()).read_at == START
    another_worker(app)
    clock.move(3600)
    client.get("/staff/stats")
    assert snapshot(cy_key()).read_at == START + dt.timedelta(seconds=3600)
    assert clock.computed == [START]


def test_figures_not_kept_are_still_served(app, client, demo, cases, clock, monkeypatch,
                                           caplog):
    """Keeping the figures is a write; when it fails (the database locked for longer than
    its busy timeout, say), the page is served all the same and the failure logged."""
    @contextlib.contextmanager
    def locked():
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        yield

    monkeypatch.setattr(stats_service.storage, "write_intent", locked)
    login(client, demo, "leader")
    with caplog.at_level("WARNING", logger="oversight.services.stats"):
        response, html = get_stats(client, demo, "leader")
    assert response.status_code == 200
    assert table_rows(html, "organ") == [["朝阳分局", "12"], ["三里屯派出所", "3"]]
    assert "statistics not kept" in caplog.text
    assert snapshot(cy_key()) is None


def test_refresh_counts_ahead_what_is_read_and_drops_what_is_not(app, client, demo, cases,
                                                                 clock):
    login(client, demo, "leader")
    client.get("/staff/stats")
    client.get("/transparency")
    add_complaint("BJ-CY", "2026-11-21T04:00")
    cy = organ("BJ-CY").path
    unread, forgotten = (f"dashboard|{cy}||2026-0{m}-01|" for m in (1, 2))
    for key, read in ((unread, START - dt.timedelta(days=2)),
                      (forgotten, START - dt.timedelta(days=8)),
                      ("dashboard|/9999/|||", START)):  # an organ no longer there
        db.session.add(StatsSnapshot(key=key, format=1, computed_at=START - dt.timedelta(
            days=8), read_at=read, figures="{}"))
    db.session.commit()

    done = stats_service.refresh(START + dt.timedelta(seconds=20))  # younger than half
    assert done.counted == []
    assert done.dropped == 2  # read 8 days ago; an organ no longer there
    assert {row.key for row in db.session.execute(sa.select(StatsSnapshot.key))} == {
        cy_key(), "transparency", unread}
    done = stats_service.refresh(START + dt.timedelta(seconds=40))
    assert sorted(done.counted) == sorted([cy_key(), "transparency"])  # not the unread
    db.session.commit()
    assert snapshot(cy_key()).computed_at == START + dt.timedelta(seconds=40)
    assert snapshot(cy_key()).read_at == START  # counting ahead is not reading
    assert snapshot(unread).figures == "{}"
    # a worker now draws what the refresher counted, and counts nothing itself
    another_worker(app)
    clock.move(90)
    html = client.get("/staff/stats").get_data(as_text=True)
    assert table_rows(html, "month")[-1] == ["2026-11", "11"]
    assert clock.computed == [START, START + dt.timedelta(seconds=40)]  # the page's; ahead


def test_unreadable_kept_figures_are_counted_again(app, client, demo, cases, clock, caplog):
    login(client, demo, "leader")
    client.get("/staff/stats")
    db.session.execute(sa.update(StatsSnapshot).values(figures='{"organs": 1}'))
    db.session.commit()
    another_worker(app)
    with caplog.at_level("WARNING", logger="oversight.services.stats"):
        response = client.get("/staff/stats")
    assert response.status_code == 200
    assert table_rows(response.get_data(as_text=True), "organ")[0] == ["朝阳分局", "12"]
    assert "unreadable; counted again" in caplog.text
    assert len(clock.computed) == 2
    assert json.loads(snapshot(cy_key()).figures)["organs"][0] == ["朝阳分局", 12]


def test_a_failed_count_stops_nothing_else(app, client, demo, cases, clock, monkeypatch):
    login(client, demo, "leader")
    client.get("/staff/stats")
    client.get("/transparency")

    def broken(_key, _now):
        raise sa.exc.OperationalError("SELECT", {}, Exception("canceling statement"))

    monkeypatch.setitem(stats_service._COUNTERS, "dashboard", broken)
    done = stats_service.refresh(START + dt.timedelta(seconds=40))
    assert (done.counted, done.failed) == (["transparency"], [cy_key()])
    assert snapshot(cy_key()).computed_at == START  # kept as it was
    monkeypatch.setattr("oversight.models.base.utcnow",
                        lambda: START + dt.timedelta(seconds=40))
    result = app.test_cli_runner().invoke(refresh_stats_command)
    assert result.exit_code == 1
    assert f"统计数据计算失败（见日志），下次再试：{cy_key()}" in result.output


def test_refresh_stats_command(app, client, demo, cases, clock, monkeypatch):
    login(client, demo, "leader")
    client.get("/staff/stats")
    monkeypatch.setattr("oversight.models.base.utcnow",
                        lambda: START + dt.timedelta(seconds=40))
    result = app.test_cli_runner().invoke(refresh_stats_command)
    assert result.exit_code == 0, result.output
    assert "已预先计算统计数据 1 项，清除 0 项" in result.output
    assert len(clock.computed) == 2
    monkeypatch.setitem(app.config, "STATS_CACHE_SECONDS", 0)
    result = app.test_cli_runner().invoke(refresh_stats_command)
    assert "无需预先计算" in result.output
    assert len(clock.computed) == 2


def test_refresh_stats_follows_until_stopped(app, client, demo, cases, clock, monkeypatch):
    """``--follow`` makes a pass, sleeps ``--poll`` seconds, and again, until Ctrl+C."""
    login(client, demo, "leader")
    client.get("/staff/stats")
    moments = iter([START + dt.timedelta(seconds=s) for s in (40, 80)])
    monkeypatch.setattr("oversight.models.base.utcnow", lambda: next(moments))
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        if len(slept) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("time.sleep", sleep)
    result = app.test_cli_runner().invoke(refresh_stats_command, ["--follow", "--poll", "5"])
    assert result.exit_code == 0, result.output
    assert result.output.count("已预先计算统计数据 1 项") == 2
    assert slept == [5.0, 5.0]
    assert clock.computed == [START, START + dt.timedelta(seconds=40),
                              START + dt.timedelta(seconds=80)]


def test_only_users_allowed_statistics_have_a_scope(demo):
    from helpers import user

    assert stats_service.Scope.of_user(user("leader")).within == organ("BJ-CY").path
    with pytest.raises(PermissionError):
        stats_service.Scope.of_user(user("admin"))


def test_figures_drawn_from_json_are_the_figures_counted(app, demo, cases):
    scope = stats_service.Scope(organ("BJ").path)
    figures = stats_service.dashboard_figures(scope, utcnow())
    kept = json.loads(json.dumps(figures))
    counted, drawn = stats_service.Dashboard.of(figures), stats_service.Dashboard.of(kept)
    assert drawn.tables == counted.tables
    assert (drawn.complaint_days, drawn.investigation_days, drawn.overdue,
            drawn.substantiated) == (counted.complaint_days, counted.investigation_days,
                                     counted.overdue, counted.substantiated)
    public = stats_service.transparency_figures()
    assert stats_service.public_rows(json.loads(json.dumps(public))) == \
        stats_service.public_rows(public)
    assert stats_service.Scope.from_key(scope.key) == scope


def test_stats_cache_seconds_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("OVERSIGHT_STATS_CACHE_SECONDS", raising=False)
    assert build_config({"INSTANCE_PATH": str(tmp_path)})["STATS_CACHE_SECONDS"] == 300
    monkeypatch.setenv("OVERSIGHT_STATS_CACHE_SECONDS", "0")
    assert build_config({"INSTANCE_PATH": str(tmp_path)})["STATS_CACHE_SECONDS"] == 0
