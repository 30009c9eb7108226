"""A worker's resident memory and the search index (issue 8: RSS ≤ 150 MB a worker).

The index is read through ``mmap``: the pages a request read must not stay mapped in the
worker once the searcher is checked back in (``MappedFileStorage.release_pages``), and a
big segment's text columns are read value by value from the mapped file, without copying
their tables of offsets and lengths (``engine.MappedBytes``)."""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest
from helpers import organ, user
from search_helpers import complain
from whoosh.columns import VarBytesColumn
from whoosh.query import Term

from oversight.extensions import db
from oversight.models import Complaint
from oversight.models.base import utcnow
from oversight.search import engine as engine_mod
from oversight.search import index_pending, search, similar
from oversight.search.engine import MappedBytes, SegmentCache, _narrowest
from oversight.search.service import engine_for
from oversight.search.store import index_root, pool_for
from oversight.services.uow import unit_of_work
from oversight.services.workflow import record_outbox

pytestmark = pytest.mark.search


def mapped_kb(folder: Path) -> int:
    """Resident kB of this process's mappings of the files under ``folder``, from
    ``/proc/self/smaps`` (Linux, where CI and production run)."""
    total, inside = 0, False
    prefix = str(folder.resolve())
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if not fields:
            continue
        if "-" in fields[0] and not fields[0].endswith(":"):  # a mapping's header line
            inside = len(fields) > 5 and fields[5].startswith(prefix)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


def test_the_pages_a_request_read_are_unmapped_when_its_searcher_is_checked_in(app, demo):
    cases = [complain(narrative=f"辅警在路口执勤时态度蛮横，辱骂群众并推搡第{i}人。")
             for i in range(5)]
    index_pending()
    root = index_root()
    with pool_for(root).searcher() as (_ident, searcher):
        assert searcher.stored_fields(0)["key"]
        assert mapped_kb(root) > 0  # read through the mapped files
    assert mapped_kb(root) == 0

    inspector = user("inspector")
    assert search(inspector, "态度蛮横").total == 5
    assert similar(inspector, cases[0])
    assert mapped_kb(root) == 0


@pytest.fixture
def offsets_written(monkeypatch):
    """Whoosh writes a text column's table of offsets only past 32,768 documents (a
    smaller one is read by summing its lengths): here every column writes it, as the big
    segment of a real index does."""
    real = VarBytesColumn.Writer.__init__

    def always(self, dbfile, allow_offsets=True, cutoff=2**15):
        real(self, dbfile, allow_offsets, 0)

    monkeypatch.setattr(VarBytesColumn.Writer, "__init__", always)


def test_a_big_segments_text_is_read_from_the_mapped_file(app, demo, offsets_written):
    narratives = [f"辅警在路口执勤时态度蛮横，辱骂群众并推搡第{i}人。" for i in range(4)]
    narratives.append("协警酒后驾驶警用车辆，撞坏路边护栏后离开。")
    cases = [complain(narrative=text) for text in narratives]
    index_pending()
    with pool_for(index_root()).searcher() as (_ident, searcher):
        engine = engine_for(searcher)
        docnums = list(range(searcher.doc_count_all()))
        assert engine.stored_fields(docnums) == [searcher.stored_fields(d) for d in docnums]
        assert engine.stored_fields(docnums[::-1])[0] == searcher.stored_fields(docnums[-1])
        flat = searcher.reader().column_reader("flat", translate=False)
        assert [engine.flat(d) for d in docnums] == [flat[d].decode() for d in docnums]
        keys = searcher.reader().column_reader("key", translate=False)
        assert engine.stored_keys(docnums) == [keys[d].decode() for d in docnums]
        assert sorted(engine.occurrences(docnums, "态度蛮横")) == [
            d for d in docnums if "态度蛮横" in flat[d].decode()]
        # read through the mapped tables, Whoosh's readers (and their arrays) unused
        for name in ("_stored", "flat", "key"):
            read = [col for (column, _leaf), col in engine._readers.items() if column == name]
            assert read and all(isinstance(c, MappedBytes) for c in read)
    inspector = user("inspector")
    result = search(inspector, "态度蛮横")
    assert result.total == 4 and {h.case_id for h in result.hits} == {c.id for c in cases[:4]}
    assert [h.case_id for h in similar(inspector, cases[0])]


def test_a_small_segment_falls_back_to_whooshs_readers(app, demo):
    complain(narrative="辅警在路口执勤时态度蛮横。")
    index_pending()
    with pool_for(index_root()).searcher() as (_ident, searcher):
        engine = engine_for(searcher)
        assert engine.stored_fields([0]) == [searcher.stored_fields(0)]
        assert "辅警在路口执勤时态度蛮横" in engine.flat(0)
        assert engine._readers[("_stored", 0)] is None
        assert not isinstance(engine._readers[("flat", 0)], MappedBytes)


def test_an_organs_scope_is_read_from_the_posting_blocks_alone(app, demo):
    for code in ("BJ-CY", "BJ-CY", "BJ-HD", "BJ-CY"):
        complain(code, narrative="辅警在路口执勤时态度蛮横。")
    index_pending()
    with pool_for(index_root()).searcher() as (_ident, searcher):
        engine = engine_for(searcher)
        for code in ("BJ", "BJ-CY", "BJ-HD"):
            organ_id = organ(code).id
            expected = sorted(searcher.docs_for_query(Term("organ_path", str(organ_id))))
            assert list(engine.scope(organ_id)) == expected and expected


def test_cached_columns_take_the_narrowest_type(app, demo):
    complain(narrative="辅警在路口执勤时态度蛮横。")
    index_pending()
    complain(narrative="辅警推搡群众" * 12_000)  # a length past two bytes
    index_pending()
    with pool_for(index_root()).searcher() as (_ident, searcher):
        engine = engine_for(searcher)
        engine.warm()
        for leaf in range(len(engine.leaves)):
            for name in ("case_type", "state"):
                assert engine._values(leaf, name).codes.typecode == "B"
            lengths = engine._values(leaf, "length")
            assert lengths.typecode == ("B" if max(lengths) < 256 else "I")
        everything = list(range(searcher.doc_count_all()))
        assert max(engine.column("length", everything)) >= 1 << 16  # kept whole
    assert _narrowest(array("I", [0, 255]), 255).typecode == "B"
    assert _narrowest(array("I", [0, 256]), 256).typecode == "H"
    assert _narrowest(array("I", [1 << 16]), 1 << 16).tolist() == [1 << 16]


def test_scopes_are_kept_within_their_budget_and_read_again_when_dropped(app, demo,
                                                                        monkeypatch):
    budget = 8  # bytes: two documents' numbers, so every scope is dropped again
    monkeypatch.setattr(engine_mod, "SCOPES_BUDGET", budget)
    monkeypatch.setattr(engine_mod, "_scopes", SegmentCache(budget))
    cases = [complain(code, narrative="辅警在路口执勤时态度蛮横。")
             for code in ("BJ-CY", "BJ-CY-SLT", "BJ-HD", "BJ-CY", "BJ-HD")]
    index_pending()
    with unit_of_work():  # indexed again: a new segment, and a deletion in an older one
        record_outbox(db.session.get(Complaint, cases[0].id), utcnow())
    index_pending()
    codes = ("BJ", "BJ-CY", "BJ-CY-SLT", "BJ-HD")
    with pool_for(index_root()).searcher() as (_ident, searcher):
        engine = engine_for(searcher)
        # several segments, one with a deletion: the copies' path
        assert len(engine.leaves) > 1 and any(leaf[3] for leaf in engine.leaves)
        expected = {code: sorted(searcher.docs_for_query(
            Term("organ_path", str(organ(code).id)))) for code in codes}
        assert len(expected["BJ"]) == 5
        for _round in range(2):
            for code in codes:
                assert list(engine.scope(organ(code).id)) == expected[code]
                for cache in (engine_mod._scopes, engine._scopes):
                    assert cache.used <= budget or len(cache._items) == 1
