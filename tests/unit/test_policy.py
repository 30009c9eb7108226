"""Policy packs: every pack loads, every local quote is real, and the packs say what the
regulations say (the design table, checked against the texts)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from workflows.policy import (
    LIMIT_KEYS,
    NATIONAL_ID,
    POLICY_DIR,
    PRACTICE_SOURCE,
    RULE_KEYS,
    Citation,
    PolicyError,
    Unit,
    article_number,
    cn_number,
    get_packs,
    load_packs,
    normalize,
    parse_articles,
)

LOCAL = ("beijing-2022", "province-2021", "sichuan-2021", "nantong-draft", "yunnan-2024")
TEXTS = {
    "beijing-2022-banfa.txt": 28,
    "province-2021-tiaoli.txt": 43,
    "sichuan-2021-banfa.txt": 46,
    "nantong-draft-shishi-banfa.txt": 20,
    "yunnan-2024-tiaoli.txt": 45,
}


@pytest.fixture(scope="module")
def packs():
    return load_packs()


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --------------------------------------------------------------------------- parsing


def test_chinese_numerals():
    assert cn_number("十") == 10
    assert cn_number("二十四") == 24
    assert cn_number("四十五") == 45
    assert cn_number("一百零五") == 105
    assert article_number("第三十一条") == 31
    with pytest.raises(ValueError):
        article_number("第三章")


@pytest.mark.parametrize("name,count", sorted(TEXTS.items()))
def test_parse_articles_contiguous(name, count):
    articles = parse_articles((POLICY_DIR / "texts" / name).read_text(encoding="utf-8"))
    assert [article_number(k) for k in articles] == list(range(1, count + 1))
    assert all(body for body in articles.values())
    assert all(not re.search(r"\s", body) for body in articles.values())
    # the last article is the commencement clause; nothing trails it
    assert "起施行" in list(articles.values())[-1]
    # no chapter heading, markdown or page header leaked into an article
    for body in articles.values():
        assert "**" not in body and "#" not in body
        assert not re.search(r"第[一二三四五六七八九十]+章", body)


def test_parse_articles_quirks():
    text = (
        "某某办法\n第一章　总　　则\n"
        "　　第一条　为了\n规范管理，制定本办法。\n"
        "**第二条** 警务辅助人员不得有下列行为：\n\n- (一)甲；  \n(二)乙。\n"
        "## 页眉\n(2024年5月31日某会议通过)\n"
        "第二章 管理\n[bookmark: _GoBack]第三条  依照本办法\n第二条规定执行。\n"
    )
    articles = parse_articles(text)
    assert articles == {
        "第一条": "为了规范管理，制定本办法。",
        "第二条": "警务辅助人员不得有下列行为：(一)甲；(二)乙。",
        "第三条": "依照本办法第二条规定执行。",
    }


def test_parse_articles_joins_pdf_lines():
    text = (POLICY_DIR / "texts" / "sichuan-2021-banfa.txt").read_text(encoding="utf-8")
    articles = parse_articles(text)
    assert "当事警务辅助人员有权陈述和申辩" in articles["第三十一条"]
    assert articles["第四十六条"] == "本办法自2021年3月1日起施行。"


def test_yunnan_page_header_removed():
    text = (POLICY_DIR / "texts" / "yunnan-2024-tiaoli.txt").read_text(encoding="utf-8")
    sixth = parse_articles(text)["第六条"]
    assert "报上一级机构编制、财政等部门按照有关程序核准。" in sixth
    assert "会议通过" not in sixth and "管理条例" not in sixth


def test_normalize_removes_ideographic_space():
    assert normalize("第一条\u3000为了\n 规范 ") == "第一条为了规范"


# --------------------------------------------------------------------------- loading


def test_all_packs_load(packs):
    assert set(packs) == {NATIONAL_ID, *LOCAL}
    assert packs[NATIONAL_ID].is_national
    assert not any(packs[p].is_national for p in LOCAL)


def test_get_packs_is_cached_and_read_only():
    assert get_packs() is get_packs()
    with pytest.raises(TypeError):
        get_packs()["x"] = None  # type: ignore[index]


@pytest.mark.parametrize("pid", [NATIONAL_ID, *LOCAL])
def test_every_rule_and_limit_present(packs, pid):
    pack = packs[pid]
    assert tuple(pack.rules) == RULE_KEYS
    assert tuple(pack.limits) == LIMIT_KEYS
    for key in RULE_KEYS:
        rule = pack.rule(key)
        assert rule.key == key and rule.citation.quote
        if rule.fallback:
            assert rule.citation == packs[NATIONAL_ID].rule(key).citation
            assert rule.note
    for key in LIMIT_KEYS:
        limit = pack.limit(key)
        assert limit.amount > 0 and isinstance(limit.unit, Unit)


@pytest.mark.parametrize("pid", LOCAL)
def test_local_quotes_are_verbatim(packs, pid):
    """Belt and braces: the loader checks quotes; re-check every local citation here."""
    pack = packs[pid]
    articles = parse_articles((POLICY_DIR / "texts" / pack.text_file).read_text("utf-8"))
    citations = [r.citation for r in pack.rules.values()]
    citations += [c.citation for c in pack.categories] + [m.citation for m in pack.measures]
    citations += [g.citation for g in pack.recusal_grounds]
    citations += [lim.citation for lim in pack.limits.values()]
    local = [c for c in citations if not c.national]
    assert local
    for c in local:
        assert c.source == pack.name
        assert c.quote in articles[c.article], c.label
        assert c.label == f"《{pack.name}》{c.article}"


def test_national_citations_are_gists(packs):
    for rule in packs[NATIONAL_ID].rules.values():
        c = rule.citation
        assert c.national and c.quote_kind == "要旨"
        assert (c.article == "—") == (c.source == PRACTICE_SOURCE)
        assert "《" not in c.source


def test_citation_labels():
    c = Citation("北京市公安机关警务辅助人员管理办法", "第二十四条", "畅通投诉举报渠道", False)
    assert c.label == "《北京市公安机关警务辅助人员管理办法》第二十四条"
    assert c.quote_kind == "原文"
    practice = Citation(PRACTICE_SOURCE, "—", "要旨", True)
    assert practice.practice and practice.label == PRACTICE_SOURCE


def test_unit_labels():
    assert [u.label for u in Unit] == ["自然日", "工作日", "小时", "个月"]


def test_lookup_errors_are_policy_errors(packs):
    pack = packs["beijing-2022"]
    for lookup in (pack.rule, pack.limit, pack.category, pack.measure):
        with pytest.raises(PolicyError, match="beijing-2022"):
            lookup("no_such_key")


@pytest.mark.parametrize("pid", [NATIONAL_ID, *LOCAL])
def test_categories_and_measures(packs, pid):
    pack = packs[pid]
    codes = [c.code for c in pack.categories]
    assert "other" in codes and pack.category("other").label == "其他"
    assert len(codes) >= 5 and len(set(codes)) == len(codes)
    assert all(0 < len(c.label) <= 16 for c in pack.categories)
    severities = [m.severity for m in pack.measures]
    assert len(set(severities)) == len(severities) and min(severities) >= 1
    assert severities == sorted(severities)
    for m in pack.measures:
        assert m.national_practice == m.citation.national


def test_national_defaults(packs):
    nat = packs[NATIONAL_ID]
    assert [(m.label, m.severity) for m in nat.measures] == [
        ("批评教育", 1), ("通报批评", 2), ("扣发绩效", 3), ("降低层级", 4), ("解除劳动合同", 5)]
    assert all(m.national_practice for m in nat.measures)
    expected = {
        "acknowledge": (15, Unit.calendar_days, "第二十二条、第二十三条"),
        "conclude": (60, Unit.calendar_days, "第三十四条"),
        "extend_max": (30, Unit.calendar_days, "第三十四条"),
        "review_request": (30, Unit.calendar_days, "第三十五条"),
        "review_answer": (30, Unit.calendar_days, "第三十五条"),
        "recheck_request": (30, Unit.calendar_days, "第三十六条"),
        "recheck_answer": (30, Unit.calendar_days, "第三十六条"),
        "recusal_decide": (2, Unit.calendar_days, "第二十一条"),
        "recusal_reconsider_request": (5, Unit.calendar_days, "第三十七条"),
        "recusal_reconsider_answer": (5, Unit.calendar_days, "第三十七条"),
        "statement_window": (5, Unit.working_days, "—"),
        "appeal_window": (30, Unit.calendar_days, "—"),
        "suspension_max": (60, Unit.calendar_days, "第十二条"),
    }
    for key, (amount, unit, article) in expected.items():
        limit = nat.limit(key)
        assert (limit.amount, limit.unit, limit.citation.article) == (amount, unit, article)
    assert nat.rule("complaint_review").citation.label == "《信访工作条例》第三十五条"
    assert [a.label for a in nat.recusal_applicants] == ["当事人", "法定代理人"]
    assert nat.recusal_grounds_enumerated and len(nat.recusal_grounds) == 3


def test_pack_metadata(packs):
    assert packs["beijing-2022"].in_force == date(2022, 3, 1)
    assert packs["province-2021"].in_force == date(2021, 3, 1)
    assert packs["sichuan-2021"].in_force == date(2021, 3, 1)
    assert packs["yunnan-2024"].in_force == date(2024, 7, 1)
    nantong = packs["nantong-draft"]
    assert nantong.draft and nantong.in_force is None
    assert not any(packs[p].draft for p in LOCAL if p != "nantong-draft")
    assert [packs[p].short_name for p in LOCAL] == [
        "北京2022", "某省2021条例", "四川2021", "南通征求意见稿", "云南2024"]


# --------------------------------------------------------------------------- design table

F = None  # fallback to the national rule
TABLE = {
    #                        beijing        province       sichuan        nantong     yunnan
    "complaint_channel": ("第二十四条", "第三十四条", "第三十一条", "第十七条", "第三十一条"),
    "complainant_told_result": (F, "第三十四条", F, "第十七条", "第三十一条"),
    "officer_statement": (F, F, "第三十一条", F, F),
    "recusal_grounds": ("第十七条", "第三十三条", "第三十条", F, "第三十条"),
    "recusal_applicants": ("第十七条", "第三十三条", F, F, "第三十条"),
    "suspension": (F, F, F, F, "第三十二条"),
    "measures": ("第二十五条", "第三十七条", "第四十三条", "第十八条", "第三十二条"),
    "recovery": (F, "第三十八条", "第四十二条", F, "第四十条"),
    "clarification": (F, F, "第二十八条", F, F),
    "appeal_right": (F, "第十三条", "第十四条", F, "第二十一条"),
    "complaint_refusal": (F, F, F, F, F),
    "complaint_transfer": (F, F, F, F, F),
    "complaint_review": (F, F, F, F, F),
    "recovery_civil": (F, F, F, F, F),
    "union_notice": (F, F, F, F, F),
    "supervisor_referral": (F, F, F, F, "第四十条"),
    "complaint_extension": (F, F, F, F, F),
    "complaint_recheck": (F, F, F, F, F),
}


@pytest.mark.parametrize("key", RULE_KEYS)
@pytest.mark.parametrize("pid", LOCAL)
def test_design_table(packs, pid, key):
    expected = TABLE[key][LOCAL.index(pid)]
    rule = packs[pid].rule(key)
    if expected is F:
        assert rule.fallback and rule.citation.national
    else:
        assert not rule.fallback and not rule.citation.national
        assert rule.citation.article == expected


@pytest.mark.parametrize("pid,mandatory", [
    ("beijing-2022", False), ("province-2021", False), ("sichuan-2021", False),
    ("nantong-draft", False), ("yunnan-2024", True)])
def test_suspension_mandatory_only_in_yunnan(packs, pid, mandatory):
    assert packs[pid].suspension_mandatory is mandatory


@pytest.mark.parametrize("pid,mandatory", [
    ("province-2021", True), ("sichuan-2021", True), ("yunnan-2024", False),
    # silent texts: 国家赔偿法 第十六条 says 应当责令
    ("beijing-2022", True), ("nantong-draft", True)])
def test_recovery(packs, pid, mandatory):
    pack = packs[pid]
    assert pack.recovery_mandatory is mandatory
    assert ("应当" if mandatory else "可以") in pack.rule("recovery").citation.quote


@pytest.mark.parametrize("pid,enumerated", [
    ("beijing-2022", True), ("province-2021", False), ("sichuan-2021", False),
    ("nantong-draft", True), ("yunnan-2024", True)])
def test_recusal_grounds(packs, pid, enumerated):
    pack = packs[pid]
    assert pack.recusal_grounds_enumerated is enumerated
    assert len(pack.recusal_grounds) == (3 if enumerated else 0)
    if enumerated:
        assert [g.code for g in pack.recusal_grounds] == [
            "party_or_relative", "interest", "other_relation"]
        national = pid == "nantong-draft"
        assert all(g.citation.national is national for g in pack.recusal_grounds)


@pytest.mark.parametrize("pid,labels", [
    ("beijing-2022", ["当事人", "法定代理人"]),
    ("province-2021", ["当事人", "法定代理人"]),
    ("sichuan-2021", ["当事人", "法定代理人"]),
    ("nantong-draft", ["当事人", "法定代理人"]),
    ("yunnan-2024", ["当事人", "监护人", "法定代表人", "委托代理人"])])
def test_recusal_applicants(packs, pid, labels):
    assert [a.label for a in packs[pid].recusal_applicants] == labels


def test_measures_per_pack(packs):
    bj = packs["beijing-2022"]
    assert [(m.label, m.severity, m.national_practice) for m in bj.measures] == [
        ("批评教育", 1, False), ("降低层级", 4, False), ("不予留用", 5, False)]
    assert all(m.citation.article == "第二十五条" for m in bj.measures)
    sc = packs["sichuan-2021"].measure("dismissal")
    assert (sc.label, sc.citation.article, sc.national_practice) == ("解除劳动合同", "第三十二条",
                                                                     False)
    assert packs["province-2021"].measure("dismissal").citation.article == "第三十五条"
    for pid in ("nantong-draft", "yunnan-2024"):
        assert all(m.national_practice for m in packs[pid].measures)


@pytest.mark.parametrize("pid,article", [
    ("province-2021", "第十四条"), ("yunnan-2024", "第二十四条"),
    ("beijing-2022", "第十四条"), ("sichuan-2021", "第十三条")])
def test_categories_come_from_the_prohibition_list(packs, pid, article):
    cited = [c for c in packs[pid].categories if c.citation.article == article]
    assert len(cited) >= 5


def test_province_and_yunnan_rudeness_and_abuse(packs):
    assert packs["province-2021"].category("rude").citation.quote == "对群众态度蛮横、行为粗暴"
    assert "体罚" in packs["yunnan-2024"].category("abuse").citation.quote


def test_nantong_uses_national_categories(packs):
    nantong = packs["nantong-draft"]
    assert nantong.category("assault").citation.national
    assert not nantong.category("other").citation.national


# --------------------------------------------------------------------------- validation


def test_tampered_quote_is_rejected(policy_copy):
    _edit(policy_copy / "yunnan-2024.yaml", "调查期间暂停履行职责", "调查期间可以暂停履行职责")
    with pytest.raises(PolicyError) as err:
        load_packs(policy_copy)
    message = str(err.value)
    assert "yunnan-2024" in message and "suspension" in message and "第三十二条" in message


def test_wrong_article_is_rejected(policy_copy):
    _edit(policy_copy / "beijing-2022.yaml", "article: 第二十四条", "article: 第二十三条")
    with pytest.raises(PolicyError, match="第二十三条"):
        load_packs(policy_copy)


def test_untouched_copy_loads(policy_copy):
    assert set(load_packs(policy_copy)) == {NATIONAL_ID, *LOCAL}


@pytest.mark.parametrize("file,old,new,match", [
    ("beijing-2022.yaml", "draft: false", "draft: false\nextra_key: 1", "unknown keys"),
    ("beijing-2022.yaml", "  clarification: {fallback: true}\n", "", "clarification"),
    ("beijing-2022.yaml", "severity: 4", "severity: 1", "severity"),
    ("beijing-2022.yaml", "{code: other, label: 其他,", "{code: misc, label: 其他,", "other"),
    ("beijing-2022.yaml", "code: secrets,", "code: weapons,", "duplicate"),
    ("national.yaml", "amount: 60, unit: calendar_days", "amount: 60, unit: fortnights", "unit"),
    ("national.yaml", "amount: 15,", "amount: 0,", "positive"),
    ("national.yaml", "amount: 15,", "amount: true,", "acknowledge"),
    ("national.yaml", "article: 第三十四条,\n     gist: 自受理",
     "article: 第34条,\n     gist: 自受理",
     "bad article"),
    ("national.yaml", "  appeal_window:", "  appeal_windows:", "unknown limit"),
    ("yunnan-2024.yaml", "suspension_mandatory: true", "suspension_mandatory: maybe", "suspension"),
    ("beijing-2022.yaml", "suspension_mandatory: false", "suspension_mandatory: true",
     "national default"),
    ("sichuan-2021.yaml", "applicants: national", "applicants: []", "recusal"),
    ("yunnan-2024.yaml", "{code: agent, label: 委托代理人}", "{code: agent, label: 诉讼代理人}",
     "applicant"),
    ("beijing-2022.yaml", "in_force: 2022-03-01", "in_force: null", "draft"),
    ("beijing-2022.yaml", "id: beijing-2022", "id: beijing", "file name"),
    ("beijing-2022.yaml", "label: 降低层级, severity: 4", "label: 通报批评, severity: 4",
     "not named"),
    ("nantong-draft.yaml", "{code: gifts, national: true}", "{code: presents, national: true}",
     "presents"),
])
def test_invalid_packs_are_rejected(policy_copy, file, old, new, match):
    _edit(policy_copy / file, old, new)
    with pytest.raises(PolicyError, match=match):
        load_packs(policy_copy)


def test_missing_national_is_rejected(policy_copy):
    (policy_copy / "national.yaml").unlink()
    with pytest.raises(PolicyError, match="national"):
        load_packs(policy_copy)


def test_cli_summary():
    result = subprocess.run([sys.executable, "-m", "workflows.policy"], capture_output=True,
                            text=True, cwd=POLICY_DIR.parent.parent, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + len(LOCAL)
    assert any(line.startswith("yunnan-2024: 18 rules,") for line in lines)


def test_cli_fails_on_error(policy_copy, monkeypatch, capsys):
    import workflows.policy as policy

    _edit(policy_copy / "province-2021.yaml", "应当责令", "可以责令")
    monkeypatch.setattr(policy, "POLICY_DIR", policy_copy)
    monkeypatch.setattr(policy, "load_packs", lambda: load_packs(policy_copy))
    assert policy.main() == 1
    assert "province-2021" in capsys.readouterr().err
