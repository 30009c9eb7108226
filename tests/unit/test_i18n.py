"""Every user-facing string goes through gettext, so other locales can follow.

The source language is Simplified Chinese: msgids are the Chinese texts. Three checks keep
it that way: Babel's extraction (with the repository's ``babel.cfg``) finds the messages;
no Chinese literal in ``oversight/`` or ``workflows/`` escapes a gettext call; no Chinese
text in a template sits outside ``_()``. A last test translates through a real catalog.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

REPO = Path(__file__).resolve().parents[2]

#: The gettext keywords (see README, "Translating"): ``_l`` is lazy_gettext, ``N_`` marks a
#: literal in the pure domain.
KEYWORDS = {"_": None, "_l": None, "N_": None, "gettext": None, "lazy_gettext": None,
            "ngettext": (1, 2)}

#: A literal passed as the message to one of these is translated. ``translate`` looks up a
#: msgid in workflows/; its literal must still be extracted (checked below).
TRANSLATING_CALLS = frozenset(KEYWORDS) | {"translate"}

#: Chinese (CJK ideographs) and full-width punctuation (CJK symbols, full-width forms).
CJK = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")

#: Not scanned: quotations of legal texts and pack data, and demo data (names of organs,
#: officers and accounts).
NOT_UI = {"workflows/policy.py", "oversight/seed.py"}

#: Literals that must stay raw, keyed by (file, literal), each with its reason.
ALLOWED_RAW = {
    ("oversight/services/events.py", "[已隐去]"):
        "redaction marker stored in the hash-chained event payload: it is part of an "
        "immutable record, so it must not depend on the locale of the request that wrote it",
}


def _is_text(value: str) -> bool:
    """True when the string holds Chinese beyond whitespace (the full-width space U+3000
    used to indent organ trees is layout, not text)."""
    return bool(CJK.search("".join(value.split())))


@cache
def extracted() -> dict[str, list[str]]:
    """msgid -> locations, extracted the way ``pybabel extract -F babel.cfg`` does."""
    with open(REPO / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    messages: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, options_map, keywords=KEYWORDS):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                messages.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return messages


# --- extraction ------------------------------------------------------------------------


@pytest.mark.parametrize("msgid, where", [
    ("待受理", "workflows/complaint.py"),  # a state label
    ("已提交，等待受理", "workflows/complaint.py"),  # a public state label
    ("拟不予受理", "workflows/complaint.py"),  # a transition label
    ("须写明理由，报领导审批", "workflows/complaint.py"),  # a transition help text
    ("已超过申请复查的期限（收到处理结果告知书之日起30日内）", "workflows/complaint.py"),
    ("审批领导", "workflows/roles.py"),
    ("工作日历未覆盖 %(day)s，无法计算工作日期限，请更新 chinesecalendar", "workflows/clocks.py"),
    ("案件已被他人更新，请刷新后重试", "oversight/services/errors.py"),  # a service error
    ("案件编号或查询码不正确", "oversight/services/cases.py"),
    ("案件当前状态为「%(state)s」，不能执行「%(action)s」", "oversight/services/workflow.py"),
    ("处理结果告知书", "oversight/services/notices.py"),  # a notice title
    ("告知是否受理", "oversight/models/records.py"),  # a clock label
    ("数据库已有数据，未重复生成演示数据", "oversight/cli.py"),
    ("由其他机关转来", "oversight/web/filters.py"),
    ("工作人员登录", "templates/"),  # a template string
    ("（%(text)s）", "templates/staff/case.html"),
])
def test_representative_messages_are_extracted(msgid, where):
    locations = extracted().get(msgid, [])
    assert any(loc.startswith(where) for loc in locations), (msgid, locations)


def test_extraction_is_large_and_uses_named_placeholders():
    messages = extracted()
    assert len(messages) > 300, len(messages)
    positional = [m for m in messages if re.search(r"%(?!\(\w+\)s|%)", m)]
    assert not positional, f"use %(name)s placeholders: {positional}"


def test_policy_packs_and_notice_bodies_are_not_extracted():
    files = {loc.rsplit(":", 1)[0] for locs in extracted().values() for loc in locs}
    assert not any(f.startswith("workflows/policies/") or f.endswith(".txt") for f in files)
    assert "workflows/policy.py" not in files


# --- Python sources ----------------------------------------------------------------------


def _sources() -> list[Path]:
    files = []
    for root in ("oversight", "workflows"):
        for path in sorted((REPO / root).rglob("*.py")):
            if path.relative_to(REPO).as_posix() not in NOT_UI:
                files.append(path)
    return files


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _chinese_literals(path: Path):
    """Yield (lineno, literal, translated?) for every Chinese str constant that is not a
    docstring or other bare string statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if not _is_text(node.value):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Expr):  # docstring or a bare string statement
            continue
        translated = (
            isinstance(parent, ast.Call)
            and _call_name(parent.func) in TRANSLATING_CALLS
            and bool(parent.args)
            and (parent.args[0] is node
                 or (_call_name(parent.func) == "ngettext" and len(parent.args) > 1
                     and parent.args[1] is node))
        )
        yield node.lineno, node.value, translated


def test_every_chinese_literal_goes_through_gettext():
    offenders, allowed_seen = [], set()
    for path in _sources():
        rel = path.relative_to(REPO).as_posix()
        for lineno, value, translated in _chinese_literals(path):
            if translated:
                continue
            if (rel, value) in ALLOWED_RAW:
                allowed_seen.add((rel, value))
                continue
            offenders.append(f"{rel}:{lineno}: {value!r}")
    assert not offenders, ("Chinese literals outside _(), _l(), N_(), gettext(), "
                           "lazy_gettext(), ngettext() or translate():\n"
                           + "\n".join(offenders))
    stale = set(ALLOWED_RAW) - allowed_seen
    assert not stale, f"allowlist entries no longer needed: {stale}"


def test_every_translated_literal_is_extracted():
    """``translate("…")`` alone would translate a msgid no catalog ever holds."""
    messages = extracted()
    missing = [f"{path.relative_to(REPO).as_posix()}:{lineno}: {value!r}"
               for path in _sources()
               for lineno, value, translated in _chinese_literals(path)
               if translated and value not in messages]
    assert not missing, "translated but not extracted (mark with N_):\n" + "\n".join(missing)


# --- templates ---------------------------------------------------------------------------

_STR = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\""""
#: A gettext call's message (and ngettext's plural): the literals that are translated.
_GETTEXT_CALL = re.compile(
    rf"\b(?:_|gettext|ngettext)\(\s*(?:{_STR})(?:\s*,\s*(?:{_STR}))?")
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_TRANS_BLOCK = re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", re.S)


def _blank(match: re.Match) -> str:
    return "\n" * match.group().count("\n")  # keep line numbers


def template_offenders(source: str) -> list[tuple[int, str]]:
    """(line, text) for Chinese outside ``_()``: in the markup itself, or as a string
    literal inside a ``{{ }}``/``{% %}`` tag that is not a gettext message."""
    source = _TRANS_BLOCK.sub(_blank, _COMMENT.sub(_blank, source))
    found: list[tuple[int, str]] = []

    def text(start: int, end: int) -> None:
        for m in re.finditer(r"[^\n]+", source[start:end]):
            if _is_text(m.group()):
                found.append((source.count("\n", 0, start + m.start()) + 1, m.group().strip()))

    last = 0
    for tag in _TAG.finditer(source):
        text(last, tag.start())
        for literal in re.finditer(_STR, _GETTEXT_CALL.sub("", tag.group())):
            if _is_text(literal.group()[1:-1]):
                found.append((source.count("\n", 0, tag.start()) + 1, literal.group()))
        last = tag.end()
    text(last, len(source))
    return found


def test_template_scanner_finds_raw_text():
    source = ("<p>{{ _('已翻译') }}</p>\n<p>未翻译</p>{# 注释 #}\n"
              "{{ x | join('、') }}{{ '　' * d }}{% trans %}块{% endtrans %}")
    assert template_offenders(source) == [(2, "<p>未翻译</p>"), (3, "'、'")]


def test_every_template_text_goes_through_gettext():
    offenders = []
    for path in sorted((REPO / "templates").rglob("*.html")):
        rel = path.relative_to(REPO).as_posix()
        offenders += [f"{rel}:{line}: {text}"
                      for line, text in template_offenders(path.read_text(encoding="utf-8"))]
    assert not offenders, "Chinese text outside {{ _('…') }}:\n" + "\n".join(offenders)


# --- the hooks at work -------------------------------------------------------------------


def test_domain_labels_go_through_the_translator(monkeypatch):
    from workflows import i18n
    from workflows.complaint import COMPLAINT, ComplaintKind, ComplaintState, Finding
    from workflows.roles import Role

    monkeypatch.setattr(i18n, "_translator", i18n._translator)  # restored afterwards
    i18n.set_translator(lambda message: f"<{message}>")
    assert ComplaintState.SUBMITTED.label == "<待受理>"
    assert ComplaintState.SUBMITTED.public_label == "<已提交，等待受理>"
    accept, refusal = COMPLAINT.by_trigger["accept"], COMPLAINT.by_trigger["propose_refusal"]
    assert (accept.title, accept.label) == ("受理", "<受理>")
    assert (accept.help, refusal.help) == ("", "<须写明理由，报领导审批>")
    assert COMPLAINT.label == "<投诉举报>"
    assert Role.LEADER.label == "<审批领导>"
    assert ComplaintKind.REPORT.label == "<检举>"
    assert Finding.PARTLY.label == "<部分属实>"
    assert i18n.translate("") == ""
    i18n.set_translator(None)
    assert ComplaintState.SUBMITTED.label == "待受理"


def test_a_catalog_translates_domain_app_and_templates(tmp_path):
    """With an English catalog, each kind of string comes out translated."""
    import flask_babel
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from flask import render_template_string
    from helpers import make_app

    from oversight.extensions import db
    from oversight.models import CaseClock
    from oversight.services.errors import StaleCase
    from oversight.services.notices import NOTICE_TITLES
    from workflows.complaint import COMPLAINT, ComplaintState
    from workflows.i18n import translate

    english = {
        "待受理": "Awaiting intake", "受理": "Register", "处理结果告知书": "Outcome notice",
        "案件已被他人更新，请刷新后重试": "Someone else changed this case; reload and retry",
        "告知是否受理": "Say whether registered", "工作人员登录": "Staff login",
    }
    catalog = Catalog(locale="en")
    for msgid, msgstr in english.items():
        catalog.add(msgid, msgstr)
    mo = tmp_path / "translations" / "en" / "LC_MESSAGES" / "messages.mo"
    mo.parent.mkdir(parents=True)
    with open(mo, "wb") as fh:
        write_mo(fh, catalog)

    app = make_app(tmp_path, BABEL_TRANSLATION_DIRECTORIES=str(tmp_path / "translations"))
    with app.app_context():
        domain = flask_babel.get_domain()  # shared by every app: its cache is cleared
    domain.cache.clear()
    try:
        with app.test_request_context(), flask_babel.force_locale("en"):
            assert ComplaintState.SUBMITTED.label == "Awaiting intake"
            assert COMPLAINT.by_trigger["accept"].label == "Register"
            assert translate("待受理") == "Awaiting intake"
            assert str(NOTICE_TITLES["outcome"]) == "Outcome notice"
            assert StaleCase().message == english["案件已被他人更新，请刷新后重试"]
            assert CaseClock(kind="acknowledge").label == "Say whether registered"
            assert render_template_string("{{ _('工作人员登录') }}") == "Staff login"
        with app.test_request_context():  # the configured locale: the Chinese msgids
            assert ComplaintState.SUBMITTED.label == "待受理"
            assert str(NOTICE_TITLES["outcome"]) == "处理结果告知书"
    finally:
        domain.cache.clear()
        with app.app_context():
            db.engine.dispose()
