"""Side experiment for issue 5: what each design choice of ``oversight.search.engine`` is
worth, on identical data. Not part of the recorded benchmark (it reaches into the core's
internals: ``engine``, ``query.parse``, ``service.match``, ``indexer.REBUILD_BY_ORGAN``):

    .venv/bin/python bench/search_levers.py --docs 20000

Variants, each returning the in-scope total for the query (the hit counts must agree):

- ``core.search``: the real function (count, facets, top 20 ranked, snippets, DB rows);
- ``engine match only``: the scoped match and count, nothing else;
- ``whoosh matchers``: the same needles as Whoosh queries (an ``And`` of bigram ``Term``s
  per needle, no positions), ``docs_for_query`` over the whole index, then the scope set
  and the same exact check of the candidates: what the engine replaces;
- ``unclustered``: ``engine match only`` on an index rebuilt in id order instead of the
  organ tree's (the scope's postings are then spread over every block).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search as bench  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from oversight.extensions import db  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--per-class", type=int, default=12)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oversight-search-levers-"))
    try:
        app, tree, scope, badges, _info = bench.build_database(
            tmp, args.docs, bench.corpus.DEFAULT_SEED)
        with app.app_context():
            run(tree, scope, badges, args.per_class)
            db.session.remove()
            db.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tree, scope, badges, per_class: int) -> None:
    from whoosh import query as wq

    import oversight.search as core
    from oversight.models import User
    from oversight.search import indexer, service, store
    from oversight.search.query import parse

    actor = db.session.execute(sa.select(User)).scalar_one()
    queries = bench.corpus.make_queries(tree, scope, bench.corpus.DEFAULT_SEED, per_class,
                                        badges)
    pool = store.pool_for(store.index_root())

    def real(q):
        return core.search(actor, q).total

    def engine_only(q):
        with pool.searcher() as (_ident, searcher):
            allowed = service.engine_for(searcher).scope(actor.organ_id)
            return len(service.match(service.engine_for(searcher), parse(q), allowed)[0])

    def whoosh_matchers(q):
        parsed = parse(q)
        with pool.searcher() as (_ident, searcher):
            engine = service.engine_for(searcher)
            allowed = set(engine.scope(actor.organ_id))
            cands = None
            for group in parsed.must:
                found = set()
                for n in group:
                    query = wq.And([wq.Term("bigram", g) for g in n.grams])
                    docs = [d for d in searcher.docs_for_query(query) if d in allowed]
                    found.update(d for d in docs
                                 if n.exact_by_postings or n.flat in engine.flat(d))
                cands = found if cands is None else cands & found
            for group in parsed.must_not:
                for n in group:
                    query = wq.And([wq.Term("bigram", g) for g in n.grams])
                    cands -= {d for d in searcher.docs_for_query(query)
                              if n.exact_by_postings or n.flat in engine.flat(d)}
            return len(cands or ())

    for order in ("organ", "id"):
        indexer.REBUILD_BY_ORGAN = order == "organ"
        started = time.perf_counter()
        core.rebuild()
        print(f"rebuild in {order} order: {time.perf_counter() - started:.1f} s")
        variants = [("core.search", real), ("engine match only", engine_only),
                    ("whoosh matchers", whoosh_matchers)] if order == "organ" else \
            [("unclustered", engine_only)]
        for name, fn in variants:
            for cls, qs in queries.items():
                for q in qs[:2]:
                    fn(q)
                times, hits = [], 0
                for q in qs:
                    t0 = time.perf_counter()
                    hits += fn(q)
                    times.append(time.perf_counter() - t0)
                print(f"{name:20s} {cls:7s} p50 {statistics.median(times) * 1000:8.1f} ms"
                      f"  max {max(times) * 1000:8.1f} ms  hits {hits}")
    indexer.REBUILD_BY_ORGAN = True


if __name__ == "__main__":
    main()
