"""Side experiment for issue 5: where ``oversight.search.search`` spends its time, and what
two query-side levers would save. Not part of the recorded benchmark (it reaches into the
core's internals: ``query.parse``, ``store.pool_for``, ``service.scope_docs``, which may
change); run it on a small corpus to compare strategies on identical data:

    .venv/bin/python bench/search_levers.py --docs 2000

Variants, each returning the in-scope total for the query:

- ``core.search``: the real function (count, facets, top 20 with snippets);
- ``core matching only``: what the core does to count: ``docs_for_query`` over the whole
  index, then membership in the cached scope set;
- ``scope term inside And``: the scope term ``organ_path:<id>`` as a conjunct of the query,
  so Whoosh could skip to in-scope documents;
- ``bag of bigrams + verify`` (phrases only): the positional ``Phrase`` over the bigram
  field replaced by an ``And`` of its bigram terms (no positions read), then each candidate
  checked exactly against its stored text (punctuation and spaces ignored, as the core's
  phrase semantics say). The hit counts show whether it finds the same documents.
"""

from __future__ import annotations

import argparse
import re
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

_NOT_TEXT = re.compile(r"[\W_]+")


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
    from oversight.search import query as sq
    from oversight.search import service, store
    from oversight.search.analysis import normalize

    started = time.perf_counter()
    core.rebuild()
    print(f"rebuild: {time.perf_counter() - started:.1f} s")
    actor = db.session.execute(sa.select(User)).scalar_one()
    queries = bench.corpus.make_queries(tree, scope, bench.corpus.DEFAULT_SEED, per_class,
                                        badges)
    pool = store.pool_for(store.index_root())
    scope_term = wq.Term("organ_path", str(actor.organ_id))

    def real(q):
        return core.search(actor, q).total

    def matching_only(q):
        parsed = sq.parse(q)
        with pool.searcher() as (ident, searcher):
            allowed = service.scope_docs(ident, searcher, actor.organ_id)
            return len([d for d in searcher.docs_for_query(parsed.query) if d in allowed])

    def scope_in_and(q):
        parsed = sq.parse(q)
        with pool.searcher() as (_ident, searcher):
            return sum(1 for _ in searcher.docs_for_query(wq.And([scope_term, parsed.query])))

    def bag_and_verify(q):
        parsed = sq.parse(q)

        def unphrase(node):
            if isinstance(node, wq.Phrase):
                return wq.And([wq.Term(node.fieldname, w) for w in node.words])
            return node

        bag = parsed.query.accept(unphrase)
        needle = _NOT_TEXT.sub("", normalize(q.strip('"'))).lower()
        with pool.searcher() as (_ident, searcher):
            return sum(
                1 for d in searcher.docs_for_query(wq.And([scope_term, bag]))
                if needle in _NOT_TEXT.sub("", normalize(searcher.stored_fields(d)["text"]))
                .lower())

    variants = [("core.search", real, None), ("core matching only", matching_only, None),
                ("scope term inside And", scope_in_and, None),
                ("bag of bigrams + verify", bag_and_verify, {"phrase"})]
    for name, fn, only in variants:
        for cls, qs in queries.items():
            if only and cls not in only:
                continue
            for q in qs[:2]:
                fn(q)
            times, hits = [], 0
            for q in qs:
                t0 = time.perf_counter()
                hits += fn(q)
                times.append(time.perf_counter() - t0)
            print(f"{name:24s} {cls:7s} p50 {statistics.median(times) * 1000:8.1f} ms"
                  f"  max {max(times) * 1000:8.1f} ms  hits {hits}")


if __name__ == "__main__":
    main()
