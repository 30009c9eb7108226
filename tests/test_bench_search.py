"""The search benchmark runs end to end in quick mode and writes a well-formed result.

No timing is asserted here: timings belong to bench/results/, not to a test that must pass
on any machine. What is asserted is that every measurement exists, is a plausible number,
and that the search and the LIKE baseline looked at the same data (hits were found, the
new complaint became searchable).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = {"term1", "term2", "term3", "phrase", "badge"}


def test_search_corpus_is_deterministic():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import search_corpus as corpus
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from workflows.policy import get_packs

    def first_rows(seed):
        tree = corpus.build_tree(seed)
        organ_ids = {o.key: i + 1 for i, o in enumerate(tree.organs)}
        officer_ids = {o.badge_no: i + 1 for i, o in enumerate(tree.officers)}
        gen = corpus.CorpusGenerator(tree, get_packs(), organ_ids, officer_ids, seed)
        return [gen.row() for _ in range(50)]

    rows = first_rows(7)
    assert rows == first_rows(7)
    assert rows != first_rows(8)
    lengths = [len(r["narrative"]) for r in rows]
    assert 250 <= sum(lengths) / len(lengths) <= 370
    assert any(r["officer_badge_text"] for r in rows)
    assert len({r["organ_id"] for r in rows}) > 10


def test_quick_benchmark_writes_every_measurement(tmp_path):
    out = tmp_path / "search.json"
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "bench" / "search.py"), "--quick",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))

    assert result["name"] == "search"
    assert result["machine"]["cpus"] >= 1
    assert result["versions"]["whoosh-reloaded"] and result["versions"]["rjieba"]
    assert result["parameters"]["quick"] is True
    (docs, size), = result["sizes"].items()
    assert size["corpus"]["docs"] == int(docs) == result["parameters"]["docs"][0]
    assert 0 < size["corpus"]["docs_in_scope"] < int(docs)
    assert size["rebuild"]["wall_s"] > 0 and size["rebuild"]["index_bytes"] > 0
    assert set(size["queries"]) >= CLASSES
    for cls in CLASSES:
        q = size["queries"][cls]
        for key in ("search_top20_with_count", "like_count", "like_top20"):
            assert q[key]["n"] == result["parameters"]["queries_per_class"]
            assert 0 < q[key]["p50_ms"] <= q[key]["p95_ms"] <= q[key]["max_ms"]
        assert q["ratio_like_count_over_search_p50"] > 0
    # the corpus and the queries fit together: common words and phrases are found
    assert size["queries"]["term1"]["median_hits_search"] > 0
    assert size["queries"]["phrase"]["median_hits_search"] > 0
    cts = size["commit_to_searchable"]
    assert cts["found"] == cts["repeats"] > 0
    assert cts["inline"]["searches_until_found"] == [1] * cts["inline"]["repeats"]
    assert size["index_pending_batch"]["rows"] > 0
    assert set(result["verdicts"][docs]) >= {"worst_class_p50_ms", "p50_within_30ms"}
    assert result["core_files"]["service.py"]
