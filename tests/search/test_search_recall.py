"""Recall on a fixed corpus: every query finds exactly the documents that contain it.

Ground truth for every query is computed from the indexed text itself: the documents that
contain the query (a bare word or a quoted phrase) as a substring once punctuation and
spaces are ignored (several bare words: each of them). Version 1 of the index also had an
rjieba word field; the measurement that compared it with the bigram field is recorded in
``oversight.search.query``'s docstring.
"""

from __future__ import annotations

import re

import pytest
from helpers import user
from search_helpers import complain

from oversight.search import search
from oversight.search.query import parse
from oversight.search.service import engine_for, match
from oversight.search.store import index_root, pool_for

pytestmark = pytest.mark.search

#: (narrative, badge typed by the complainant, place)
CORPUS = [
    ("2026年11月20日晚，辅警态度蛮横，辱骂群众并推搡。", "BJ10001", "三里屯路口"),
    ("交通事故现场，协警拒绝出示证件，执法记录仪未开启。", "BJ10002", "东三环辅路"),
    ("该辅警在处理交通纠纷时吃拿卡要，索要好处费。", "BJ10003", "朝阳北路"),
    ("辅警推搡群众后离开，一名群众手臂受伤。", "BJ10001", "工体北路"),
    ("巡逻时态度很蛮横，对一位老人大声呵斥。", "", "团结湖公园"),
    ("执法记录仪编号KM-0231显示，当事辅警多次辱骂。", "KM-0231", "朝阳门外"),
    ("违章停车处理过程中，辅警拒绝说明理由。", "BJ10002", "望京街道"),
    ("在朝阳公园南门，协警殴打摊贩。", "SC30001", "朝阳公园南门"),
    ("交通协管员在路口乱罚款，未开具票据。", "", "劲松桥下"),
    ("派出所门口辅警故意刁难前来办事的群众。", "BJ10003", "三里屯派出所"),
    ("夜间查车时辅警索要香烟，态度恶劣。", "YN50001", "亮马桥"),
    ("辅警在交通事故处理中偏袒一方当事人。", "BJ10001", "双井桥"),
]

#: (query, is_phrase). Words inside longer words, phrases against non-adjacent words,
#: badges and mixed Latin and digits.
QUERIES = [
    ("交通", False), ("事故", False), ("记录仪", False), ("态度蛮横", False),
    ("态度 蛮横", False), ("推搡", False), ("协警", False), ("辱骂", False),
    ("里屯", False), ("停车", False), ("罚款", False), ("老人", False),
    ("好处费", False), ("拒绝", False), ("索要", False), ("刁难", False),
    ("公园南门", False), ("处理中", False), ("群众手臂", False), ("东三环", False),
    ("BJ10001", False), ("bj10002", False), ("KM-0231", False), ("km-0231", False),
    ("0231", False), ("YN50001", False), ("SC30001", False),
    ("态度蛮横", True), ("推搡群众", True), ("辱骂群众", True), ("辅警故意刁难", True),
    ("处理交通纠纷", True), ("交通处理", True), ("事故处理", True), ("交通事故处理", True),
    ("态度很蛮横", True), ("吃拿卡要，索要", True), ("记录仪编号KM-0231", True),
    ("三里屯", True), ("大声呵斥", True), ("辅警 推搡", True), ("里屯路口", True),
    ("手臂受", True), ("车处理", True), ("乱罚款，未开", True),
]

_IGNORED = re.compile(r"[\W_]+")


def _squash(text: str) -> str:
    return _IGNORED.sub("", text).lower()


def _truth(docs: dict[int, str], q: str, phrase: bool) -> set[int]:
    if phrase or len(q.split()) == 1:
        return {d for d, text in docs.items() if _squash(q) in _squash(text)}
    return {d for d, text in docs.items() if all(_squash(w) in _squash(text) for w in q.split())}


@pytest.fixture
def corpus(staff):
    """The case numbers of the corpus, in order."""
    return [complain(narrative=narrative, officer_badge=badge,
                     officer_description="" if badge else "身材较高",
                     incident_place=place).number
            for narrative, badge, place in CORPUS]


def test_every_query_finds_exactly_its_ground_truth(corpus):
    """Words inside longer words, phrases against non-adjacent words, badges and mixed
    Latin and digits: no document missed, none too many (the bigram candidates are
    checked against the text)."""
    with pool_for(index_root()).searcher() as (_ident, searcher):
        docs = {d: searcher.stored_fields(d)["text"] for d in searcher.reader().all_doc_ids()}
        keys = {d: searcher.stored_fields(d)["key"] for d in docs}
        engine = engine_for(searcher)
        found = expected_total = 0
        for q, phrase in QUERIES:
            expected = _truth(docs, q, phrase)
            got, _tfs = match(engine, parse(f'"{q}"' if phrase else q), sorted(docs))
            assert set(got) == expected, (q, phrase, {keys[d] for d in expected ^ set(got)})
            found += len(got)
            expected_total += len(expected)
    assert found == expected_total > 40


@pytest.mark.parametrize("q, numbers", [
    ("交通", [1, 2, 8, 11]),  # inside 交通事故, 交通纠纷, 交通协管员
    ("记录仪", [1, 5]),  # inside 执法记录仪
    ("事故", [1, 11]),
    ('"态度蛮横"', [0]),  # the phrase, not 态度很蛮横
    ("态度 蛮横", [0, 4]),  # both words anywhere
    ('"推搡群众"', [3]),  # not 辱骂群众并推搡
    ('"交通处理"', []),  # not a substring anywhere, though both words are
    ('"事故处理"', [11]),
    ("BJ10001", [0, 3, 11]),
    ("bj10002", [1, 6]),
    ("KM-0231", [5]),
    ("0231", [5]),
    ("里屯", [0, 9]),  # inside 三里屯
])
def test_recall_on_the_fixed_corpus(corpus, q, numbers):
    result = search(user("inspector"), q, per_page=50)
    assert {h.number for h in result.hits} == {corpus[i] for i in numbers}, \
        [str(h.snippet) for h in result.hits]
    assert result.total == len(numbers)
    assert all("<mark>" in h.snippet for h in result.hits)
