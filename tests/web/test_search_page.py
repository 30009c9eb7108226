"""The staff search page (全文检索) and the similar-complaints panel on a complaint page.

The index is kept fresh inline after each commit (config SEARCH_INLINE, on by default), so
a complaint filed through the service is searchable as soon as ``make_complaint`` returns.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import login, make_complaint, organ
from webhelpers import (
    element,
    field_box,
    field_errors,
    fire_as,
    isolate_requests,
    refreshed,
    text_of,
    value_of,
)

from oversight.extensions import db
from oversight.models import User
from oversight.services.uow import unit_of_work
from oversight.web.filters import local_date
from workflows.complaint import ComplaintState
from workflows.roles import Role

pytestmark = pytest.mark.search

SEARCH = "/staff/search"


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)


def add_user(username: str, role: Role, organ_code: str) -> dict[str, str]:
    password = secrets.token_urlsafe(12)
    with unit_of_work():
        account = User(username=username, display_name=username, role=role,
                       organ=organ(organ_code))
        account.set_password(password)
        db.session.add(account)
    return {username: password}


def search(client, **params):
    response = client.get(SEARCH, query_string=params)
    return response, response.get_data(as_text=True)


def hit_numbers(html: str) -> list[str]:
    """Case numbers listed in the hits table, in order."""
    table = element(html, "hits")
    if table is None:
        return []
    return re.findall(r'<a href="/staff/[a-z]+/\d+">([^<]+)</a>', table)


def facet_text(html: str, key: str) -> str:
    box = element(html, f"facet-{key}")
    return "" if box is None else " ".join(text_of(box).split())


def total_of(html: str) -> int:
    heading = element(html, "search-total")
    assert heading is not None, "no result total on the page"
    return int(re.search(r"\d+", text_of(heading)).group())


def narrative(text: str) -> str:
    """A narrative long enough for the complaint form's 20-character minimum."""
    return text + "，请求依法调查处理并给予答复。"


# --------------------------------------------------------------------------- the page


def test_search_page_renders_the_form_for_an_inspector(client, demo):
    login(client, demo, "inspector")
    response, html = search(client)
    assert response.status_code == 200
    form = element(html, "search-form")
    assert form is not None and 'method="get"' in form
    for control in ("q", "case_type", "state", "organ_id", "category", "date_from",
                    "date_to", "sort"):
        assert f'name="{control}"' in form, control
    assert value_of(form, "sort") == "relevance"
    assert "csrf_token" not in form  # a GET search changes nothing
    assert element(html, "search-results") is None  # nothing searched yet
    # The user's own subtree is offered, a sibling organ is not.
    organs = element(html, "organ_id")
    assert organ("BJ-CY").name in organs and organ("BJ-CY-SLT").name in organs
    assert organ("BJ-HD").name not in organs
    # Categories of the user's pack.
    assert organ("BJ-CY").pack.categories[0].label in element(html, "category")


def test_nav_and_queue_lead_to_search(client, demo):
    login(client, demo, "intake")
    html = client.get("/staff/").get_data(as_text=True)
    assert f'href="{SEARCH}"' in html
    queue_search = element(html, "queue-search")
    assert queue_search is not None and f'action="{SEARCH}"' in queue_search
    assert 'name="q"' in queue_search


def test_finds_a_complaint_by_a_narrative_phrase(client, demo):
    wanted, _ = make_complaint(narrative=narrative("辅警在工体北路收费停车场吃拿卡要，索要香烟"))
    other, _ = make_complaint(narrative=narrative("辅警在望京街道路口态度粗暴，推搡行人"))
    login(client, demo, "inspector")
    response, html = search(client, q="吃拿卡要")
    assert response.status_code == 200
    assert hit_numbers(html) == [wanted.number]
    assert total_of(html) == 1
    assert f'href="/staff/complaints/{wanted.id}"' in element(html, "hits")
    assert "<mark>" in element(html, "hits")  # the highlighted snippet, as Markup
    assert other.number not in html


def test_finds_a_complaint_by_badge_number(client, demo):
    wanted, _ = make_complaint(officer_badge="BJ10002",
                               narrative=narrative("辅警在三里屯派出所门口言语不文明"))
    other, _ = make_complaint(officer_badge="BJ10001",
                              narrative=narrative("辅警在三里屯派出所门口言语不文明"))
    login(client, demo, "inspector")
    _response, html = search(client, q="BJ10002")
    assert hit_numbers(html) == [wanted.number]
    assert other.number not in hit_numbers(html)
    _response, html = search(client, q="bj10001")  # Latin case does not matter
    assert hit_numbers(html) == [other.number]


def test_filters_narrow_the_hits_and_facets_count_them(client, demo):
    accepted, _ = make_complaint(narrative=narrative("辅警在朝阳门外执勤时态度蛮横，辱骂外卖骑手"))
    fire_as(accepted, "accept", "intake")
    waiting, _ = make_complaint(narrative=narrative("辅警在朝阳门外执勤时态度蛮横，推搡快递员"))
    at_slt, _ = make_complaint(organ_id=organ("BJ-CY-SLT").id,
                               narrative=narrative("辅警在三里屯执勤时态度蛮横，拒不出示证件"))
    login(client, demo, "inspector")

    _response, html = search(client, q="态度蛮横")
    assert sorted(hit_numbers(html)) == sorted([accepted.number, waiting.number, at_slt.number])
    assert total_of(html) == 3
    assert "已受理 (1)" in facet_text(html, "state")
    assert "待受理 (2)" in facet_text(html, "state")
    assert f"{organ('BJ-CY-SLT').name} (1)" in facet_text(html, "organ")
    assert "投诉举报 (3)" in facet_text(html, "case_type")

    # A facet link adds its filter and keeps the query.
    link = re.search(r'<a href="([^"]+)">已受理 \(1\)</a>', element(html, "facet-state"))
    assert link, element(html, "facet-state")
    url = link.group(1).replace("&amp;", "&")
    args = parse_qs(urlsplit(url).query)
    assert args["q"] == ["态度蛮横"] and args["state"] == ["accepted"]
    html = client.get(url).get_data(as_text=True)
    assert hit_numbers(html) == [accepted.number]
    assert value_of(html, "state") == "accepted"

    # The form's own filters: state, organ, type.
    _response, html = search(client, q="态度蛮横", state="submitted")
    assert sorted(hit_numbers(html)) == sorted([waiting.number, at_slt.number])
    _response, html = search(client, q="态度蛮横", organ_id=str(organ("BJ-CY-SLT").id))
    assert hit_numbers(html) == [at_slt.number]
    _response, html = search(client, q="态度蛮横", case_type="recusal")
    assert hit_numbers(html) == [] and total_of(html) == 0


def test_a_state_of_another_type_is_refused_beside_the_field(client, demo):
    make_complaint()
    login(client, demo, "inspector")
    response, html = search(client, q="辅警", case_type="recusal", state="accepted")
    assert response.status_code == 400
    assert field_errors(field_box(html, "state")) == ["所选类型没有这个状态，请重新选择"]
    assert element(html, "search-results") is None
    # Offered: the recusal's own states only.
    states = element(html, "state")
    assert "待决定" in states and "已受理" not in states
    response, html = search(client, q="辅警", state="no-such-state")
    assert field_errors(field_box(html, "state")) == ["请从列表中选择"]


def test_sort_by_date_lists_newest_first(client, demo):
    older, _ = make_complaint(narrative=narrative("辅警在亮马桥执勤时乱收停车费"))
    newer, _ = make_complaint(narrative=narrative("辅警在亮马桥执勤时乱收停车费，还出言不逊"))
    login(client, demo, "inspector")
    _response, html = search(client, q="停车费", sort="date")
    assert hit_numbers(html) == [newer.number, older.number]
    assert value_of(html, "sort") == "date"


@pytest.mark.parametrize("username", ["intake", "inspector", "leader"])
def test_a_sibling_organs_cases_never_show_nor_count(client, demo, username):
    haidian, _ = make_complaint(organ_id=organ("BJ-HD").id, officer_badge="BJ10003",
                                narrative=narrative("辅警在中关村大街执勤时殴打路人"))
    chaoyang, _ = make_complaint(narrative=narrative("辅警在建国路执勤时殴打路人"))
    login(client, demo, username)
    for params in ({"q": "殴打路人"}, {"q": "BJ10003"}, {"q": haidian.number},
                   {"q": "殴打路人", "case_type": "complaint"}, {"q": "中关村"}):
        _response, html = search(client, **params)
        results = element(html, "search-results")
        assert results is not None, params
        assert haidian.number not in results, params
        assert organ("BJ-HD").name not in html, params
    _response, html = search(client, q="殴打路人")
    assert hit_numbers(html) == [chaoyang.number]
    assert total_of(html) == 1
    assert "(2)" not in html  # no facet counts the sibling's case
    # Choosing the sibling organ by editing the URL is refused beside the field.
    response, html = search(client, q="殴打路人", organ_id=str(organ("BJ-HD").id))
    assert response.status_code == 400
    assert field_errors(field_box(html, "organ_id")) == ["请从列表中选择"]
    assert haidian.number not in html and element(html, "hits") is None


def test_an_upper_organ_sees_its_whole_subtree(client, demo):
    haidian, _ = make_complaint(organ_id=organ("BJ-HD").id,
                                narrative=narrative("辅警在中关村大街执勤时殴打路人"))
    chaoyang, _ = make_complaint(narrative=narrative("辅警在建国路执勤时殴打路人"))
    demo = {**demo, **add_user("city_inspector", Role.INSPECTOR, "BJ")}
    login(client, demo, "city_inspector")
    _response, html = search(client, q="殴打路人")
    assert sorted(hit_numbers(html)) == sorted([haidian.number, chaoyang.number])
    assert f"{organ('BJ-HD').name} (1)" in facet_text(html, "organ")


@pytest.mark.parametrize("username, lands_on", [("officer", "/staff/me"),
                                                ("admin", "/admin/")])
def test_officers_and_admins_cannot_search(client, demo, username, lands_on):
    make_complaint(narrative=narrative("辅警在建国路执勤时殴打路人"))
    login(client, demo, username)
    response = client.get(SEARCH, query_string={"q": "殴打路人"})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == lands_on


def test_search_needs_a_login(client, demo):
    response = client.get(SEARCH, query_string={"q": "殴打"})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/staff/login"


def test_payloads_in_a_narrative_are_escaped(client, demo):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    case, _ = make_complaint(narrative=f"辅警酒后滋事{payload}并殴打群众，请求依法调查处理。")
    login(client, demo, "inspector")
    _response, html = search(client, q="滋事")
    assert hit_numbers(html) == [case.number]
    hits = element(html, "hits")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in hits
    assert "onerror" not in re.sub(r"&lt;img[^<]*?&gt;", "", hits)  # only as escaped text
    assert "<mark>" in hits
    # The only <script> on the page is the app's own file.
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/static/js/app.js">']


@pytest.mark.parametrize("q", ["", "   ", "？！。，、……", "AND OR NOT", '"" * ?'])
def test_empty_or_operator_only_queries_get_a_helpful_message(client, demo, q):
    make_complaint()
    login(client, demo, "inspector")
    response, html = search(client, q=q)
    assert response.status_code == 200
    message = element(html, "search-message")
    assert message is not None and text_of(message).strip()
    assert element(html, "hits") is None


def test_a_very_long_query_is_cut_with_a_note(client, demo):
    case, _ = make_complaint(narrative=narrative("辅警在双井桥下执勤时态度蛮横"))
    login(client, demo, "inspector")
    q = "双井" + "态" * 998
    assert len(q) == 1000
    response, html = search(client, q=q)
    assert response.status_code == 200
    results = element(html, "search-results")
    notes = [text_of(n) for n in re.findall(r'<div class="flash" role="status">.*?</div>',
                                            results, re.S)]
    assert any(n.strip() for n in notes), results


def test_date_range_is_validated_beside_the_fields(client, demo):
    make_complaint()
    login(client, demo, "inspector")
    response, html = search(client, q="辅警", date_from="2026-12-01", date_to="2026-11-01")
    assert response.status_code == 400
    assert field_errors(field_box(html, "date_to")) == ["结束日期不能早于开始日期"]
    assert field_errors(field_box(html, "date_from")) == []
    assert value_of(html, "date_from") == "2026-12-01"
    assert value_of(html, "date_to") == "2026-11-01"
    assert value_of(html, "q") == "辅警"
    assert element(html, "search-results") is None

    response, html = search(client, q="辅警", date_from="2026-13-45")
    assert response.status_code == 400
    assert field_errors(field_box(html, "date_from")) == ["请按“年-月-日”填写日期，例如 2026-11-20"]
    assert value_of(html, "date_from") == "2026-13-45"  # what was typed stays


def test_date_range_filters_by_filing_day(client, demo):
    case, _ = make_complaint(narrative=narrative("辅警在国贸桥执勤时乱开罚单"))
    login(client, demo, "inspector")
    filed = local_date(case.created_at)  # the day as staff see it, not the UTC day
    _response, html = search(client, q="罚单", date_from=filed, date_to=filed)
    assert hit_numbers(html) == [case.number]
    _response, html = search(client, q="罚单", date_from="2000-01-01", date_to="2000-01-31")
    assert hit_numbers(html) == [] and total_of(html) == 0


def test_pagination_keeps_the_query_and_filters(client, demo):
    numbers = {make_complaint(narrative=narrative(f"辅警在安贞桥第{i}次违规查验身份证"))[0].number
               for i in range(23)}
    login(client, demo, "inspector")
    response, html = search(client, q="身份证", case_type="complaint", sort="date")
    assert response.status_code == 200
    assert total_of(html) == 23
    first = hit_numbers(html)
    assert len(first) == 20
    pager = element(html, "pager")
    assert "1 / 2" in text_of(pager)
    nxt = re.search(r'<a href="([^"]+)" rel="next">', pager).group(1).replace("&amp;", "&")
    args = parse_qs(urlsplit(nxt).query)
    assert args == {"q": ["身份证"], "case_type": ["complaint"], "sort": ["date"],
                    "page": ["2"]}
    html = client.get(nxt).get_data(as_text=True)
    second = hit_numbers(html)
    assert len(second) == 3
    assert set(first) | set(second) == numbers
    assert 'rel="prev"' in element(html, "pager")


# --------------------------------------------------------------------------- similar


SAME_STORY = ("2026年11月20日晚在三里屯太古里南区门口，一名辅警态度蛮横，辱骂并推搡排队的群众，"
              "还抢走手机删除视频")


def similar_panel(client, case) -> str | None:
    html = client.get(f"/staff/complaints/{case.id}").get_data(as_text=True)
    return element(html, "similar")


def test_similar_panel_lists_a_near_identical_complaint(client, demo):
    first, _ = make_complaint(narrative=SAME_STORY + "。")
    second, _ = make_complaint(narrative=SAME_STORY + "，希望严肃处理。", name="李四",
                               phone="13900139000", email="li@example.com")
    elsewhere, _ = make_complaint(organ_id=organ("BJ-HD").id, narrative=SAME_STORY + "。")
    login(client, demo, "intake")
    panel = similar_panel(client, second)
    assert panel is not None and "可能重复的投诉" in panel
    assert first.number in panel
    assert f'href="/staff/complaints/{first.id}"' in panel
    assert second.number not in panel  # the case itself is not its own duplicate
    assert elsewhere.number not in panel  # other organ
    assert "合并到其他投诉" in text_of(panel)


def test_merge_link_prefills_the_merge_form(client, demo):
    first, _ = make_complaint(narrative=SAME_STORY + "。")
    second, _ = make_complaint(narrative=SAME_STORY + "，希望严肃处理。")
    login(client, demo, "intake")
    panel = similar_panel(client, second)
    link = re.search(rf'<a class="button" id="merge-into-{first.number}" href="([^"]+)">',
                     panel)
    assert link, panel
    url = link.group(1).replace("&amp;", "&")
    assert url == f"/staff/complaints/{second.id}?merge={first.number}#merge-target_number"
    html = client.get(url.split("#")[0]).get_data(as_text=True)
    merge = element(html, "action-merge")
    assert merge is not None
    assert value_of(merge, "merge-target_number") == first.number
    # Submitting it merges.
    response = client.post(f"/staff/complaints/{second.id}/merge", data={
        "version": str(refreshed(second).version), "target_number": first.number,
        "reason": "同一事项"}, follow_redirects=True)
    assert response.status_code == 200
    assert refreshed(second).state is ComplaintState.MERGED
    assert refreshed(second).merged_into_id == first.id


def test_merge_parameter_is_only_a_prefill(client, demo):
    case, _ = make_complaint(narrative=SAME_STORY + "。")
    login(client, demo, "intake")
    html = client.get(f"/staff/complaints/{case.id}",
                      query_string={"merge": '"><script>x</script>' + "9" * 40}
                      ).get_data(as_text=True)
    assert "<script>x" not in html
    value = value_of(element(html, "action-merge"), "merge-target_number")
    assert len(value) <= 20
    assert refreshed(case).state is ComplaintState.SUBMITTED


def test_only_intake_gets_merge_links(client, demo):
    first, _ = make_complaint(narrative=SAME_STORY + "。")
    second, _ = make_complaint(narrative=SAME_STORY + "，希望严肃处理。")
    login(client, demo, "inspector")
    panel = similar_panel(client, second)
    assert panel is not None and first.number in panel
    assert "merge-into-" not in panel


def test_no_similar_panel_once_the_complaint_cannot_be_merged(client, demo):
    make_complaint(narrative=SAME_STORY + "。")
    second, _ = make_complaint(narrative=SAME_STORY + "，希望严肃处理。")
    fire_as(second, "accept", "intake")
    login(client, demo, "intake")
    assert similar_panel(client, second) is not None  # accepted: still mergeable
    fire_as(second, "start_investigation", "inspector")
    assert refreshed(second).state is ComplaintState.INVESTIGATING
    assert similar_panel(client, second) is None
