"""The engine and the rebuild's bulk bigram writer, on raw Whoosh indexes (no database).

The bulk writer lays out posting blocks itself and the engine reads them itself, so both
are checked against Whoosh's own path: an index written document by document through
``add_document`` must hold the same postings, and every match must equal a plain scan of
the text, over several blocks, segments, deletions and scopes.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from whoosh import index as whoosh_index
from whoosh.util.times import datetime_to_long

from oversight.search.analysis import flatten, fold
from oversight.search.engine import Engine
from oversight.search.indexer import BigramPostings
from oversight.search.query import needle, parse
from oversight.search.schema import build_schema, codec
from oversight.search.service import match

pytestmark = pytest.mark.search

WORDS = ["辅警", "态度蛮横", "推搡", "群众", "交通事故", "处理", "执法记录仪", "未开启", "路口",
         "索要好处费", "BJ10001", "KM-0231", "京A12345", "ETC", "，", "。", " ", "110", "警"]


def _texts(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30))) for _ in range(n)]


def _doc(i: int, text: str) -> dict:
    folded = fold(text)
    flat = flatten(text)
    return {"key": f"complaint:{i}", "case_type": b"complaint", "case_id": i,
            "organ_id": str(2 + i % 3).encode(), "organ_path": f"1 {2 + i % 3}",
            "state": b"submitted",
            "created": datetime_to_long(dt.datetime(2026, 1, 1)),
            "category_set": b"", "title": "", "text": text,
            "flat": flat.encode("utf-8"), "length": len(flat), "bigram": folded}


def _build(path, texts, bulk: bool, **options):
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    writer = ix.writer(codec=codec(), **options)
    postings = BigramPostings.attach(writer) if bulk else None
    for i, text in enumerate(texts):
        fields = _doc(i, text)
        if postings is not None:
            postings.add(writer.docnum, fields.pop("bigram"))
        writer.add_document(**fields)
    writer.commit(optimize=True)
    return ix


def _all_postings(ix) -> dict:
    with ix.searcher() as s:
        r = s.reader()
        out = {}
        for term in r.lexicon("bigram"):
            ids, weights = [], []
            m = r.postings("bigram", term)
            while m.is_active():
                ids.append(m.id())
                weights.append(m.weight())
                m.next()
            out[term] = (ids, weights, r.doc_frequency("bigram", term))
        return out


def test_the_bulk_writer_writes_what_whoosh_writes(tmp_path):
    texts = _texts(700)  # common bigrams span several 128-posting blocks
    bulk = _all_postings(_build(tmp_path / "bulk", texts, bulk=True))
    plain = _all_postings(_build(tmp_path / "plain", texts, bulk=False))
    assert bulk == plain
    assert max(len(ids) for ids, _w, _df in bulk.values()) > 3 * 128


def _truth(texts: dict[int, str], q: str) -> set[int]:
    parsed = parse(q)

    def hit(group, text):
        return any(n.flat in flatten(text) and _runs_ok(n, text) for n in group)

    return {d for d, text in texts.items()
            if all(hit(g, text) for g in parsed.must)
            and not any(hit(g, text) for g in parsed.must_not)}


def _runs_ok(n, text) -> bool:
    """Letters and digits are indexed as whole runs: BJ1000 is not in BJ10001."""
    from oversight.search.analysis import bigrams

    grams = set(bigrams(fold(text)))
    return all(g in grams for g in n.grams if g.isascii()) or n.prefix


QUERIES = ["辅警", "警", "态度", "蛮横", '"态度蛮横"', "交通 处理", '"事故处理"', "记录仪",
           "BJ10001", "bj1000", "KM-0231", "0231", "京A12345", "a12345", "京A", "ETC 110",
           "辅警 -推搡", "推搡 OR 索要", '"群众，推搡"', "蛮横辅警", "警BJ10001"]


@pytest.mark.parametrize("bulk", [True, False])
def test_matches_equal_a_scan_of_the_text_across_segments_and_deletions(tmp_path, bulk):
    texts = _texts(600, seed=11)
    ix = _build(tmp_path / "ix", texts[:500], bulk=bulk)
    # a second segment, and replaced and deleted documents in the first
    writer = ix.writer(codec=codec())
    for i in range(500, 600):
        writer.add_document(**_doc(i, texts[i]))
    for i in range(0, 500, 9):
        texts[i] = texts[i] + "新增内容辅警推搡"
        writer.update_document(**_doc(i, texts[i]))
    deleted = {i for i in range(3, 500, 50) if i % 9}  # not those just replaced
    for i in deleted:
        writer.delete_by_term("key", f"complaint:{i}")
    writer.commit(merge=False)
    live = {i: t for i, t in enumerate(texts) if i not in deleted}
    with ix.searcher() as s:
        assert len(s.reader().leaf_readers()) == 2
        engine = Engine(s)
        keys = {d: s.stored_fields(d)["case_id"] for d in s.reader().all_doc_ids()}
        assert sorted(keys.values()) == sorted(live)
        for organ in (None, "2", "3"):
            scope = sorted(keys) if organ is None else engine.scope(int(organ))
            in_scope = {keys[d]: live[keys[d]] for d in scope}
            if organ is not None:
                assert set(in_scope) == {i for i in live if str(2 + i % 3) == organ}
            for q in QUERIES:
                got, _tfs = match(engine, parse(q), scope)
                assert {keys[d] for d in got} == _truth(in_scope, q), (q, organ)


def test_ranking_prefers_more_occurrences_and_date_filters(tmp_path):
    texts = ["辅警推搡。" * 3, "辅警推搡，群众。", "群众" * 10 + "辅警推搡"]
    ix = _build(tmp_path / "ix", texts, bulk=True)
    with ix.searcher() as s:
        engine = Engine(s)
        parsed = parse("推搡")
        docs, tfs = match(engine, parsed, [0, 1, 2])
        assert docs == [0, 1, 2]
        assert engine.rank(docs, tfs, 3)[0] == 0
        assert engine.created_between(docs, dt.datetime(2025, 12, 31), None) == docs
        assert engine.created_between(docs, dt.datetime(2026, 1, 2), None) == []


def test_a_needle_is_a_substring_of_the_flat_text():
    assert needle("态度蛮横").grams == ("态度", "度蛮", "蛮横")
    assert needle("KM-0231").flat == "km0231"
    assert needle("警").prefix
    lone = needle("警A")  # 警 is no bigram on its own here: the text check decides
    assert lone.grams == ("a",) and not lone.exact_by_postings
    assert needle("，。") is None


# --- what the engine reads in bulk, against Whoosh's own readers ------------------------------


def _whoosh_postings(reader, term: str) -> dict[int, float]:
    out = {}
    m = reader.postings("bigram", term)
    while m.is_active():
        out[m.id()] = m.weight()
        m.next()
    return out


def test_postings_in_each_block_strategy_equal_whooshs(tmp_path):
    """A scope's contiguous run takes whole blocks, a sparse set is looked up in each
    block, a dense one filters the block: all three must give Whoosh's own postings."""
    texts = _texts(3000, seed=3)
    ix = _build(tmp_path / "ix", texts, bulk=True)
    rng = random.Random(8)
    wants = {
        "run": list(range(700, 2500)),
        "sparse": sorted(rng.sample(range(3000), 60)),
        "dense": sorted(d for d in range(3000) if d % 10),
        "one": [1234],
        "ends": [0, 2999],
    }
    with ix.searcher() as s:
        reader = s.reader()
        engine = Engine(s)
        terms = sorted(reader.lexicon("bigram"),
                       key=lambda t: -reader.doc_frequency("bigram", t))
        terms = [t.decode() if isinstance(t, bytes) else t for t in terms]
        assert reader.doc_frequency("bigram", terms[0]) > 4 * 128  # many blocks
        for term in terms[:6] + terms[-3:]:
            truth = _whoosh_postings(reader, term)
            assert engine.postings("bigram", term, None) == truth
            for name, want in wants.items():
                expected = {d: w for d, w in truth.items() if d in set(want)}
                # twice: the second read uses the cached block directory
                for _round in range(2):
                    assert engine.postings("bigram", term, want) == expected, (term, name)


def test_cached_columns_equal_whooshs_values(tmp_path):
    """Numbers are read in one piece (with the tail of default values Whoosh leaves
    out), text as codes; more than 256 distinct values count without the byte trick."""
    path = tmp_path / "ix"
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    writer = ix.writer(codec=codec())
    n = 900
    for i in range(n):
        fields = _doc(i, "辅警推搡")
        fields["organ_id"] = str(i % 300).encode()  # 300 distinct values
        fields["state"] = b"" if i % 7 == 0 else (b"open" if i % 2 else "已结案".encode())
        # the last documents have the default value (0), which Whoosh does not write
        fields["length"] = 0 if i >= n - 50 else i + 1
        fields["created"] = 0 if i >= n - 20 else 10**12 + i
        writer.add_document(**fields)
    writer.commit()
    with ix.searcher() as s:
        engine = Engine(s)
        reader = s.reader()
        docs = list(range(0, n, 3))
        for name in ("created", "length", "organ_id", "state", "case_type", "category_set"):
            col = reader.column_reader(name, translate=False)
            truth = [col[d] for d in docs]
            if name not in ("created", "length"):
                truth = [v.decode() for v in truth]
            assert engine.column(name, docs) == truth, name
            if name in ("organ_id", "state"):
                assert engine.counts(name, docs) == Counter(truth)
        assert engine.where(docs, "state", lambda v: v == "已结案") == \
            [d for d in docs if d % 7 and not d % 2]
        assert engine.where(docs, "organ_id", lambda v: v in {"3", "299"}) == \
            [d for d in docs if d % 300 in (3, 299)]


def _reference_scores(engine, docnums, tfs) -> dict[int, float]:
    """BM25 written out document by document, as before the column-at-a-time version."""
    from oversight.search.engine import K1, B

    avg = engine.avg_length()
    lengths = engine.column("length", docnums)
    scores = {}
    for d, length in zip(docnums, lengths, strict=True):
        norm = K1 * (1 - B + B * length / avg)
        scores[d] = sum(idf * (K1 + 1) * tf[d] / (tf[d] + norm)
                        for idf, tf in tfs if tf.get(d))
    return scores


def test_ranking_equals_bm25_written_out(tmp_path):
    texts = _texts(1500, seed=21)
    ix = _build(tmp_path / "ix", texts, bulk=True)
    with ix.searcher() as s:
        engine = Engine(s)
        for q in ("辅警 推搡", "推搡", "态度 OR 群众", "处理 路口 -ETC", "警"):
            docs, tfs = match(engine, parse(q), list(range(1500)))
            assert len(docs) > 40, q
            # scores equal up to rounding; equal scores in document order
            score = {d: round(v, 9) for d, v in _reference_scores(engine, docs, tfs).items()}
            expected = sorted(docs, key=lambda d: (-score[d], d))
            assert len(set(score.values())) > 3, q  # a ranking, not all ties
            for limit in (1, 20, len(docs) + 5):
                assert engine.rank(docs, tfs, limit) == expected[:limit], (q, limit)


def _mapped_kb(suffix: str) -> int:
    """Resident kB of this process's mappings of files ending with ``suffix``."""
    total, current = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line
                current = len(head) >= 6 and head[-1].endswith(suffix)
            elif current and head[0] == "Rss:":
                total += int(head[1])
    return total


def test_cached_columns_leave_no_mapped_pages_behind(tmp_path):
    """Once a column's values are in the cache, its file's pages are let go: mapped, they
    stayed in every worker's resident memory. Reading the column again still works.
    (Linux, like the servers: the mappings are read from /proc/self/smaps.)"""
    from oversight.search import store

    texts = _texts(20000, seed=2)
    # separate files per segment, as the indexer writes them (indexer._writer_options)
    _build(tmp_path / "ix", texts, bulk=True, compound=False).close()
    ix = store.open_index(tmp_path / "ix")
    with ix.searcher() as s:
        engine = Engine(s)
        docs = list(range(0, 20000, 7))
        reader = s.reader()
        col = reader.column_reader("organ_id", translate=False)
        assert [col[d] for d in docs[:50]]  # Whoosh's own reads map some pages
        assert _mapped_kb(".organ_id.col") > 0
        values = engine.column("organ_id", docs)
        assert _mapped_kb(".organ_id.col") == 0
        assert engine.column("created", docs) and _mapped_kb(".created.col") == 0
        assert values == [str(2 + d % 3) for d in docs]
        assert [col[d].decode() for d in docs[:50]] == values[:50]  # mapped again


def test_segment_cache_keeps_to_its_byte_budget_not_its_entry_count():
    from oversight.search.engine import SegmentCache

    cache = SegmentCache(budget=100)
    cache.put(("big",), "columns of the big segment", 60)
    for i in range(39):  # a stream of small segments, one per indexer commit
        cache.put(("small", i), i, 1)
    assert cache.get(("big",)) == "columns of the big segment"
    assert cache.used == 99
    cache.put(("small", 39), 39, 1)
    cache.put(("another big",), "x", 30)  # over budget: least recently used go first
    assert cache.used <= 100
    assert cache.get(("big",)) == "columns of the big segment"  # used just above
    assert cache.get(("small", 0)) is None
    assert cache.get(("another big",)) == "x"


def test_a_new_generation_reuses_the_segments_scope_and_applies_its_deletions(tmp_path):
    from oversight.search.engine import _segment_scope

    texts = _texts(400, seed=4)
    ix = _build(tmp_path / "ix", texts, bulk=True)
    with ix.searcher() as s:
        first = s.reader().leaf_readers()[0][0]
        cached = _segment_scope(first, 2)
        assert list(Engine(s).scope(2)) == [d for d in range(400) if d % 3 == 0]
    writer = ix.writer(codec=codec())
    for i in range(400, 430):
        writer.add_document(**_doc(i, texts[i - 400]))
    for i in (0, 3, 6, 399):
        writer.delete_by_term("key", f"complaint:{i}")
    writer.commit(merge=False)
    with ix.searcher() as s:
        leaves = s.reader().leaf_readers()
        assert len(leaves) == 2
        assert _segment_scope(leaves[0][0], 2) is cached  # read once, not per generation
        keys = {d: s.stored_fields(d)["case_id"] for d in s.reader().all_doc_ids()}
        scope = list(Engine(s).scope(2))
        assert scope == sorted(scope)
        assert sorted(keys[d] for d in scope) == \
            [i for i in range(430) if i % 3 == 0 and i not in (0, 3, 6, 399)]


def test_a_terms_block_directory_is_read_only_as_far_as_needed(tmp_path):
    """A term's first search reads block headers up to the block it needs (as Whoosh's own
    walk would), and a later search continues from there."""
    from oversight.search import engine as engine_module

    texts = _texts(3000, seed=3)
    ix = _build(tmp_path / "ix", texts, bulk=True)
    with ix.searcher() as s:
        reader = s.reader()
        term = max((t.decode() if isinstance(t, bytes) else t
                    for t in reader.lexicon("bigram")),
                   key=lambda t: reader.doc_frequency("bigram", t))
        truth = _whoosh_postings(reader, term)
        engine = Engine(s)
        key = (engine_module._segment_key(reader.leaf_readers()[0][0]), "bigram", term)
        engine_module._blocks.clear()
        assert engine.postings("bigram", term, [5, 6]) == \
            {d: w for d, w in truth.items() if d in (5, 6)}
        blocks = engine_module._blocks.get(key)
        assert blocks.resume is not None and len(blocks.packed) == 1
        assert engine.postings("bigram", term, [1500, 2999]) == \
            {d: w for d, w in truth.items() if d in (1500, 2999)}
        assert engine_module._blocks.get(key).maxids[-1] >= 2999
        assert engine.postings("bigram", term, None) == truth
        assert engine_module._blocks.get(key).resume is None
        assert engine.postings("bigram", term, [7, 1600]) == \
            {d: w for d, w in truth.items() if d in (7, 1600)}
