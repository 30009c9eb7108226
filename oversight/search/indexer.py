"""The single writer: it applies the search outbox to the index.

The outbox (``SearchOutbox``) is an append-only change feed written in the same transaction
as every change to a case. The index keeps its own cursor, the last ``seq`` it reflects, in
``cursor.json`` next to it. A pass:

1. takes the inter-process write lock (``store.writer_lock``);
2. reads the rows after the cursor, groups them by case, loads each case fresh from the
   database and replaces its document (``update_document`` on the unique ``key``), or
   deletes it when the case is gone;
3. commits the index, and only then writes the new cursor atomically.

A crash anywhere before step 3 leaves the rows after the cursor, so the next pass applies
them; applying a row twice just writes the same document again. The rows are never
deleted, so several hosts can each keep a local index from the same feed.

On PostgreSQL a sequence number is taken at INSERT, so a transaction holding seq 10 may
commit after the one holding seq 11. The cursor therefore never moves past a gap until the
gap has been open for ``SEARCH_GAP_GRACE_SECONDS`` (then it is taken to be a rollback);
rows after the gap are applied meanwhile and simply applied again later.

Rebuild measurements: see ``rebuild`` (Whoosh's posting pool dominates, not rjieba).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session, selectinload

from oversight.extensions import db
from oversight.models import SearchOutbox
from oversight.models.base import utcnow
from oversight.search import documents, store
from oversight.services import registry

log = logging.getLogger(__name__)

#: Cases loaded and prefetched together by a rebuild.
REBUILD_BATCH = 500

#: (root, missing seq) -> monotonic time the gap was first seen, per process.
_gaps: dict[tuple[str, int], float] = {}


def advance_cursor(root: str, cursor: int, seqs: list[int], grace: float,
                   now: float | None = None) -> int:
    """The new cursor after applying ``seqs`` (ascending, all > ``cursor``): the last seq
    before the first gap younger than ``grace`` seconds."""
    now = time.monotonic() if now is None else now
    new = cursor
    for seq in seqs:
        for missing in range(new + 1, seq):
            first_seen = _gaps.setdefault((root, missing), now)
            if now - first_seen < grace:
                return new
        for missing in range(new + 1, seq):
            _gaps.pop((root, missing), None)
        new = seq
    return new


def _load(session: Session, case_type: str, case_id: int):
    model = registry.binding_for(case_type).model
    return session.get(model, case_id, populate_existing=True)


def index_pending(app=None, *, limit: int | None = None, lock_timeout: float | None = None
                  ) -> int:
    """Apply the outbox rows after the cursor; return how many rows were applied.

    ``lock_timeout`` (seconds) makes the pass give up, returning 0, when another writer
    holds the lock that long; by default it waits."""
    if app is not None and not has_app_context():
        with app.app_context():
            return index_pending(limit=limit, lock_timeout=lock_timeout)
    root = store.index_root()
    with store.writer_lock(root, lock_timeout) as held:
        if not held:
            return 0
        ixdir = store.live_index_dir(root)
        if ixdir is None:
            log.info("search index missing or outdated in %s: rebuilding", root)
            _rebuild(root, progress=None, locked=True)
            ixdir = store.live_index_dir(root)
        return _apply_pending(root, ixdir, limit)


def _apply_pending(root: Path, ixdir: Path, limit: int | None) -> int:
    from whoosh import index as whoosh_index

    cursor = store.read_cursor(ixdir)
    cfg = current_app.config
    with Session(db.engine) as session:
        q = sa.select(SearchOutbox.seq, SearchOutbox.case_type, SearchOutbox.case_id) \
            .where(SearchOutbox.seq > cursor).order_by(SearchOutbox.seq)
        if limit is not None:
            q = q.limit(limit)
        rows = session.execute(q).all()
        if not rows:
            return 0
        keys = list(dict.fromkeys((r.case_type, r.case_id) for r in rows))
        indexed = set(documents.indexed_types())
        ix = whoosh_index.open_dir(str(ixdir))
        writer = ix.writer(limitmb=cfg["SEARCH_LIMITMB"])
        try:
            for case_type, case_id in keys:
                key = f"{case_type}:{case_id}"
                case = _load(session, case_type, case_id) if case_type in indexed else None
                if case is None:
                    writer.delete_by_term("key", key)
                else:
                    writer.update_document(**documents.build(case))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
    new_cursor = advance_cursor(str(root), cursor, [r.seq for r in rows],
                                cfg["SEARCH_GAP_GRACE_SECONDS"])
    if new_cursor != cursor:
        store.write_cursor(ixdir, new_cursor)
    return len(rows)


def rebuild(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the whole index from the database into a fresh directory and swap it in;
    return the number of documents.

    Measured on 5,000 synthetic complaints of ~310 characters straight into the writer
    (2 cores, shared with other jobs: load average above 3, so absolute times are high):
    ``procs=1, limitmb=128`` 38 s; ``procs=1, limitmb=256`` 22 s (add 9 s, commit 13 s);
    ``procs=2, multisegment=True, limitmb=256`` 25 s, leaving 2 segments;
    ``procs=2`` merging into one segment 46 s. Analysis itself is ~0.5 ms a document
    (rjieba 0.06 ms); the rest is Whoosh's pure-Python posting pool, doubled by the bigram
    field. Hence the defaults ``SEARCH_REBUILD_PROCS=1`` and ``SEARCH_LIMITMB=256``;
    ``commit(optimize=True)`` leaves one segment for the block-max optimisation (a no-op
    with one process). The 100k figures are the benchmark's (bench/).
    """
    return _rebuild(store.index_root(), progress=progress, locked=False)


def _rebuild(root: Path, *, progress, locked: bool) -> int:
    cfg = current_app.config
    # The rows up to here are reflected by what is read below; rows written in the last
    # grace period may belong to transactions still open, so they are applied again.
    with Session(db.engine) as session:
        top = session.execute(sa.select(sa.func.max(SearchOutbox.seq))).scalar() or 0
        recent = session.execute(sa.select(sa.func.min(SearchOutbox.seq)).where(
            SearchOutbox.created_at >= utcnow() - _seconds(cfg["SEARCH_GAP_GRACE_SECONDS"])
        )).scalar()
    cursor = min(top, recent - 1) if recent is not None else top

    build_dir, ix = store.new_index_dir(root)
    procs = cfg["SEARCH_REBUILD_PROCS"]
    writer = ix.writer(procs=procs, multisegment=procs > 1, limitmb=cfg["SEARCH_LIMITMB"])
    count = 0
    try:
        with Session(db.engine) as session:
            types = documents.indexed_types()
            total = sum(session.execute(sa.select(sa.func.count()).select_from(
                registry.binding_for(t).model)).scalar() for t in types)
            if progress:
                progress(0, total)
            for case_type in types:
                model = registry.binding_for(case_type).model
                ids = list(session.execute(sa.select(model.id).order_by(model.id)).scalars())
                for start in range(0, len(ids), REBUILD_BATCH):
                    batch = ids[start:start + REBUILD_BATCH]
                    cases = session.execute(
                        sa.select(model).where(model.id.in_(batch)).order_by(model.id)
                        .options(*_eager(model))).scalars().all()
                    with documents.prefetch(session, case_type, batch):
                        for case in cases:
                            writer.add_document(**documents.build(case))
                    count += len(cases)
                    session.expunge_all()
                    if progress:
                        progress(count, total)
    except BaseException:
        writer.cancel()
        raise
    writer.commit(optimize=True)
    store.write_cursor(build_dir, cursor)
    if locked:
        store.swap(root, build_dir)
    else:
        with store.writer_lock(root):
            store.swap(root, build_dir)
    return count


def _eager(model) -> list:
    options = [selectinload(model.organ)]
    for name in ("officer", "investigation"):
        if hasattr(model, name):
            options.append(selectinload(getattr(model, name)))
    return options


def _seconds(n: float):
    import datetime as dt

    return dt.timedelta(seconds=n)


def follow(*, poll_seconds: float = 1.0, stop: Callable[[], bool] | None = None) -> None:
    """Apply the outbox continuously (``oversight index --follow``) until ``stop()``."""
    while stop is None or not stop():
        try:
            applied = index_pending()
        except Exception:  # keep following: the rows stay after the cursor
            log.exception("search indexing pass failed")
            applied = 0
        if not applied:
            time.sleep(poll_seconds)


def drain_after_commit() -> None:
    """Index what the transaction just committed, when the app indexes in-process
    (``SEARCH_INLINE``). A failure is logged and never reaches the request: the outbox
    rows stay after the cursor for the next pass."""
    if not has_app_context() or not current_app.config.get("SEARCH_INLINE"):
        return
    try:
        index_pending(lock_timeout=current_app.config["SEARCH_INLINE_LOCK_SECONDS"])
    except Exception:
        log.exception("in-process search indexing failed; the outbox keeps the rows")
