"""Soak in CI: ``bench/soak.py`` for 60 seconds against the real server (gunicorn with two
workers and the search indexer): public submissions, tracking look-ups (right and wrong
codes), staff sign-ins, queues, case pages, transitions through the staff form (accept,
add a note) and searches, all at once. No response may be a 5xx, no request may fail on
the network, every kind must succeed at least once, and no worker's memory may rise by
more than the recorded bound after the warm-up. No timing is asserted: latencies go to
the benchmark's results, not to a test that must pass on any machine.

SQLite (instance made with the migrations) by default; PostgreSQL when TEST_DATABASE_URL
is set (the ``instance`` fixture, tests/reliability/conftest.py). The last tests pin down,
in one process, two faults the soak found in search.
"""

from __future__ import annotations

import gc
import os
import sys
import weakref
from pathlib import Path

from helpers import make_complaint, user
from whoosh.filedb import filestore

from oversight.search import index_pending, search
from oversight.search import service as search_service
from oversight.search.store import index_root, live_index_dir, open_index, pool_for

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
try:
    import soak
finally:
    sys.path.remove(str(ROOT / "bench"))

SECONDS = 60


def test_soak_under_mixed_traffic(instance):
    result = soak.run(SECONDS, instance=instance)

    # joined, so that a failure shows each traceback whole (a list's repr is cut short)
    assert result["server_errors"] == 0, "\n\n".join(result["server_log_errors"])
    assert result["network_errors"] == 0 and result["failures"] == {}, result["failures"]
    assert result["unexpected_statuses"] == {}, result["unexpected_statuses"]
    assert set(result["success_by_kind"]) == set(soak.EXPECTED)
    failed = [kind for kind, n in result["success_by_kind"].items() if n == 0]
    assert failed == [], result["requests"]
    workers = result["memory"]["workers"]
    assert len(workers) == result["parameters"]["workers"]  # none replaced
    for pid, worker in workers.items():
        assert worker["rise_mb"] <= soak.BOUND_MB, (pid, worker["rise_mb"])
    assert result["verdict"] == {"ok": True, "reasons": []}
    # two workers filing and moving cases side by side kept the counts of cases exact
    kept = instance.oversight("counts", check=False)
    assert kept.returncode == 0, kept.stdout


def test_a_searcher_opened_before_a_merge_still_reads(app, demo):
    """The indexer merges segments every few passes; a searcher a request opened just
    before must still read the merged segments' stored fields (Whoosh opens them on first
    use: deleted at the commit, the case page's similar cases answered 500)."""
    pool = pool_for(index_root())
    for i in range(12):  # several merges (one every eight segments)
        make_complaint(narrative=f"第{i}件：辅警在路口执勤时态度蛮横，辱骂群众并推搡。")
        index_pending()
        with pool.searcher() as (_ident, searcher):
            make_complaint(narrative=f"第{i}件之后：辅警态度蛮横，辱骂群众。")
            index_pending()
            keys = {searcher.stored_fields(d)["key"] for d in range(searcher.doc_count_all())}
            assert keys == {f"complaint:{n}" for n in range(1, 2 * i + 2)}


def test_a_listing_that_misses_the_newest_table_of_contents_opens_the_one_before(
        app, demo, monkeypatch):
    """A reader finds the index's newest generation by listing its folder; a listing
    taken while the indexer renames its new table of contents into place may miss that
    name. The tables of the generations before (kept, as their files are) must then still
    be seen: hidden, the reader found no index at all, and the case page and the search
    answered 500 under the soak."""
    for i in range(3):  # three generations, the older two left unused within the minute
        make_complaint(narrative=f"第{i}件：辅警在路口执勤时态度蛮横，辱骂群众并推搡。")
        index_pending()
    ixdir = live_index_dir(index_root())
    tables = sorted((n for n in os.listdir(ixdir) if n.startswith("_MAIN_") and
                     n.endswith(".toc")), key=lambda n: int(n[6:-4]))
    assert len(tables) >= 3 and (ixdir / f".unused-{tables[-2]}").exists()
    real = os.listdir

    def mid_rename(path):
        return [n for n in real(path) if n != tables[-1]]

    monkeypatch.setattr(filestore.os, "listdir", mid_rename)
    searcher = open_index(ixdir).searcher()
    assert searcher.doc_count() == 2  # the generation before the newest
    searcher.close()


def test_scope_lists_of_older_generations_are_dropped(app, demo):
    """Each indexer pass is a new generation of the index; the organ-scope arrays kept for
    older ones are never read again and must not pile up in every worker. They live in
    the generation's engine, which goes with its searcher when the pool opens a newer
    one: only the newest generation's engine is left."""
    intake = user("intake")
    index_pending()  # an empty index first: Whoosh gives it no generation number (None)
    assert search(intake, "态度蛮横").hits == []
    engines = []
    for i in range(6):
        make_complaint(narrative=f"第{i}件：辅警在路口执勤时态度蛮横，辱骂群众并推搡。")
        index_pending()
        assert len(search(intake, "态度蛮横").hits) == i + 1
        with pool_for(index_root()).searcher() as (_ident, searcher):
            engine = search_service.engine_for(searcher)
            assert engine._scopes  # the search above kept its scope here
            engines.append(weakref.ref(engine))
            del engine
    gc.collect()
    assert [ref() is not None for ref in engines] == [False] * 5 + [True]
