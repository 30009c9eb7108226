"""Scope isolation, escaping of snippets, bad input and the complainant's identity."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import organ, user
from investigation_helpers import fire
from markupsafe import Markup
from search_helpers import complain
from whoosh import query as wq

from oversight.search import SearchResult, search
from oversight.search.query import MAX_QUERY_CHARS
from oversight.search.store import index_root, pool_for

pytestmark = pytest.mark.search

NARRATIVE = "辅警态度蛮横，辱骂群众。"


@pytest.fixture
def sites(staff):
    """One complaint per organ: {organ code: case number}."""
    return {code: complain(code, narrative=f"{NARRATIVE}地点编号{code}。",
                           officer_badge="BJ10001" if code.startswith("BJ") else "YN50001"
                           ).number
            for code in ("BJ-CY", "BJ-CY-SLT", "BJ-HD", "YN-KM-WH")}


def _all_keys_and_counts(result: SearchResult):
    organs = {value for value, _label, _n in result.facets.get("organ", [])}
    counts = {name: sum(n for _v, _l, n in values) for name, values in result.facets.items()
              if name != "category"}
    return {h.number for h in result.hits}, organs, counts


HOSTILE = ["辅警", "organ:{yn}", "organ_path:{yn}", "organ_id:{yn}", "*", "a* OR 辅警",
           "辅警 OR *", '"辅警" OR organ:{yn}', "key:complaint:1 OR 辅警", "YN50001",
           "YN-KM-WH", "BJ-HD", "state:submitted OR 辅警", "辅* OR ?警"]


@pytest.mark.parametrize("q", HOSTILE)
def test_a_user_never_sees_other_organs_cases_or_counts(sites, q):
    yn = organ("YN-KM-WH")
    q = q.format(yn=yn.id)
    mine = {sites["BJ-CY"], sites["BJ-CY-SLT"]}  # 朝阳分局 and its 三里屯派出所
    visible_organs = {str(organ("BJ-CY").id), str(organ("BJ-CY-SLT").id)}
    for who in ("inspector", "intake", "leader"):
        result = search(user(who), q, per_page=50)
        numbers, organs, counts = _all_keys_and_counts(result)
        assert numbers <= mine and organs <= visible_organs, (who, q, numbers)
        assert result.total == len(numbers) and result.total <= 2
        assert all(n == result.total for n in counts.values())
    result = search(user("yn_inspector"), q, per_page=50)
    numbers, organs, _counts = _all_keys_and_counts(result)
    assert numbers <= {sites["YN-KM-WH"]} and organs <= {str(yn.id)}
    assert result.total == len(numbers)


def test_the_subtree_is_visible_and_siblings_are_not(sites):
    result = search(user("inspector"), "辅警")
    assert {h.number for h in result.hits} == {sites["BJ-CY"], sites["BJ-CY-SLT"]}
    assert result.total == 2
    hd = search(user("hd_inspector"), "辅警")
    assert [h.number for h in hd.hits] == [sites["BJ-HD"]] and hd.total == 1


def test_roles_without_case_scope_and_empty_organs_see_nothing(sites):
    # 南通崇川 has no cases: its empty scope must not turn into "no filter".
    for who in ("admin", "officer", "nt_inspector"):
        result = search(user(who), "辅警")
        assert result.total == 0 and result.hits == [] and result.facets == {}
    # A filter naming an organ outside the scope finds nothing either.
    outside = search(user("inspector"), "辅警", organ_id=organ("YN-KM-WH").id)
    assert outside.total == 0 and outside.hits == []


def test_filters_facets_and_sorting(sites, staff):
    slt = organ("BJ-CY-SLT")
    result = search(user("inspector"), "辅警", organ_id=slt.id)
    assert [h.number for h in result.hits] == [sites["BJ-CY-SLT"]]
    assert result.facets["organ"] == [(str(slt.id), slt.name, 1)]
    assert result.facets["case_type"][0][:2] == ("complaint", "投诉举报")
    assert result.facets["state"][0][0] == "submitted"
    by_date = search(user("inspector"), "辅警", sort="date")
    assert [h.number for h in by_date.hits] == [sites["BJ-CY-SLT"], sites["BJ-CY"]]
    today = dt.date.today()
    assert search(user("inspector"), "辅警", date_from=today - dt.timedelta(days=1),
                  date_to=today + dt.timedelta(days=1)).total == 2
    assert search(user("inspector"), "辅警", date_to=today - dt.timedelta(days=2)).total == 0
    assert search(user("inspector"), "辅警", case_type="investigation").total == 0
    assert search(user("inspector"), "辅警", state="closed").total == 0
    code = organ("BJ-CY").pack.categories[0].code
    assert search(user("inspector"), "辅警", category=code).total == 2
    paged = search(user("inspector"), "辅警", per_page=1, page=2)
    assert (paged.total, paged.pages, paged.page, len(paged.hits)) == (2, 2, 2, 1)


def test_snippets_escape_script_and_onerror_payloads(staff):
    complain(narrative="辅警推搡群众<script>alert(1)</script>，又写了"
                       "<img src=x onerror=alert(1)>和\"引号\"&符号。")
    for q in ("推搡", "script", "onerror", "alert", '"<script>"', "img src"):
        result = search(user("inspector"), q)
        assert result.total == 1, q
        snippet = result.hits[0].snippet
        assert isinstance(snippet, Markup)
        html = str(snippet)
        assert "<script" not in html and "<img" not in html
        assert "<mark>" in html
        text = html.replace("<mark>", "").replace("</mark>", "")
        assert "<" not in text and ">" not in text  # the only markup is <mark>
        assert "&lt;" in text and "&gt;" in text
        if q == "推搡":  # the excerpt holds both payloads, escaped
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
            assert "&lt;img src=x onerror=alert(1)&gt;" in text
        # rendering it again in a template leaves it as it is
        assert str(Markup("{}").format(snippet)) == html


@pytest.mark.parametrize("q, message", [
    ("", True), ("   ", True), ("，。！？、；：“”", True), ("* ? : ( ) [ ] { } ^ ~", True),
    ("OR AND NOT - |", True), ('"" “” 「」', True), ("organ: *", False),
])
def test_empty_punctuation_and_operators_get_a_message(sites, q, message):
    result = search(user("inspector"), q)
    assert result.hits == [] and result.total == 0
    if message:
        assert result.message
    else:  # "organ" is just a word, found nowhere
        assert result.message is None


def test_a_long_query_is_cut_with_a_note(sites):
    result = search(user("inspector"), "辅警" + "的" * 998)
    assert len(result.notes) == 1 and str(MAX_QUERY_CHARS) in result.notes[0]
    assert result.message is None  # searched, with the first 200 characters
    odd = search(user("inspector"), ("辅警 OR \"" + "*(:" * 400)[:1000])
    assert odd.notes and odd.message is None and odd.total == 2


def test_the_complainants_identity_is_never_indexed(staff):
    case = complain(narrative="辅警在路口推搡群众。", name="欧阳娜娜", phone="13912345678",
                    email="ouyang@example.org")
    fire(case, "accept", "intake")  # issues a notice, indexed with the case
    for q in ("欧阳娜娜", "欧阳", "13912345678", "ouyang@example.org", "ouyang", "example"):
        assert search(user("inspector"), q).total == 0, q
    assert search(user("inspector"), "推搡").total == 1
    with pool_for(index_root()).searcher() as (_ident, searcher):
        live = list(searcher.documents())  # not the version the update replaced
        assert len(live) == 1 and searcher.doc_count() == 1
        fields = live[0]
        assert "受理告知书" in fields["text"]  # the notice is in
        for value in fields.values():
            for secret in ("欧阳娜娜", "13912345678", "ouyang"):
                assert secret not in str(value)
        for secret in ("欧阳娜娜", "13912345678", "ouyang", "example.org"):
            for field_name in ("text", "bigram", "officer", "badge"):
                assert not list(searcher.docs_for_query(wq.Term(field_name, secret)))
