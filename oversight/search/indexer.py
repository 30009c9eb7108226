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

Rebuild measurements: see ``rebuild``.
"""

from __future__ import annotations

import logging
import multiprocessing
import operator
import struct
import time
import traceback
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from pickle import dumps

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session, object_session, selectinload
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.system import pack_uint, pack_ushort
from whoosh.util.numeric import length_to_byte

from oversight.extensions import db
from oversight.models import Organ, SearchOutbox
from oversight.models.base import utcnow
from oversight.search import documents, store
from oversight.search.analysis import bigrams
from oversight.search.schema import codec
from oversight.services import registry

log = logging.getLogger(__name__)

def _writer_options() -> dict:
    """What every writer of the index is given: our codec (``schema.codec``), and separate
    files per segment instead of one compound file: Whoosh opens a compound segment by
    copying each of its parts into memory (``BufferFile`` wraps the mmap in a BytesIO), so
    every new searcher after a commit copied the whole big segment (hundreds of MB at
    100k documents)."""
    return {"codec": codec(), "compound": False}


#: An incremental pass merges segments only once there are this many (Whoosh's default
#: merges the small ones at every commit, re-indexing them: most of a one-document pass).
MERGE_AT_SEGMENTS = 8

#: A rebuild adds the cases in the order of the organ tree (False: of their ids; only
#: bench/search_levers.py turns it off, to measure what the order is worth).
REBUILD_BY_ORGAN = True

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
        ix = store.open_index(ixdir)
        writer = ix.writer(limitmb=cfg["SEARCH_LIMITMB"], **_writer_options())
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
        writer.commit(merge=len(writer.segments) >= MERGE_AT_SEGMENTS)
    new_cursor = advance_cursor(str(root), cursor, [r.seq for r in rows],
                                cfg["SEARCH_GAP_GRACE_SECONDS"])
    if new_cursor != cursor:
        store.write_cursor(ixdir, new_cursor)
    return len(rows)


def rebuild(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the whole index from the database into a fresh directory and swap it in;
    return the number of documents.

    Schema version 1 (an rjieba word field and a positional bigram field, ~430 postings a
    document, all through Whoosh's pure-Python posting pool) took 17-20 ms of CPU a
    document. Version 2 (issue 5), CPU seconds for the benchmark's 20,000 documents (2
    shared cores): bigram field without positions and without per-posting length
    statistics, no word field, 158 s; bigram postings collected in arrays and written
    block by block (``BigramPostings``) 45 s; no numeric fields indexed 25 s; filters
    and facets read columns, so only ``key``, ``organ_path`` and the bigrams are indexed,
    21 s. 100,000 documents: 108 CPU-s, 118 s wall (bench/results/). What is left, per
    document: reading and building it from the database (~0.3 ms), cutting its bigrams
    (~0.3 ms), Whoosh's ``add_document`` for the stored text and columns (~0.25 ms),
    writing the postings (~0.2 ms).

    ``SEARCH_REBUILD_PROCS`` of 2 or more forks a helper process (``_Helper``) that reads
    and builds the documents while this one writes them: about half the work each, so it
    helps on an otherwise idle machine with two cores (on a busy one it can be slower).
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

    helper = _Helper.start() if cfg["SEARCH_REBUILD_PROCS"] > 1 else None
    build_dir, ix = store.new_index_dir(root)
    writer = ix.writer(limitmb=cfg["SEARCH_LIMITMB"], **_writer_options())
    bulk = BigramPostings.attach(writer)
    count = 0
    try:
        with Session(db.engine) as session:
            total = sum(session.execute(sa.select(sa.func.count()).select_from(
                registry.binding_for(t).model)).scalar() for t in documents.indexed_types())
        if progress:
            progress(0, total)
        if helper is None:
            batches = _built_batches(bulk)
        else:
            batches = helper.batches(bulk)
        for batch in batches:
            for fields in batch:
                writer.add_document(**fields)
            count += len(batch)
            if progress:
                progress(count, total)
    except BaseException:
        if helper is not None:
            helper.stop()
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


def _built_batches(bulk: BigramPostings) -> Iterator[list[dict]]:
    """Every case's document, in batches, in index order; the bigram field's value goes
    to ``bulk`` (numbered as the writer will number the documents: 0, 1, ...)."""
    docnum = 0
    with Session(db.engine) as session:
        for case_type in documents.indexed_types():
            model = registry.binding_for(case_type).model
            # In the order of the organ tree: an organ's subtree is then a run of
            # document numbers, and a scoped search reads few posting blocks.
            order_by = (Organ.path, model.id) if REBUILD_BY_ORGAN else (model.id,)
            ids = list(session.execute(
                sa.select(model.id).join(Organ, Organ.id == model.organ_id)
                .order_by(*order_by)).scalars())
            for start in range(0, len(ids), REBUILD_BATCH):
                batch = ids[start:start + REBUILD_BATCH]
                order = {case_id: i for i, case_id in enumerate(batch)}
                cases = sorted(session.execute(
                    sa.select(model).where(model.id.in_(batch))
                    .options(*_eager(model))).scalars().all(),
                    key=lambda case: order[case.id])
                built = []
                with documents.prefetch(session, case_type, batch):
                    for case in cases:
                        fields = documents.build(case)
                        bulk.add(docnum, fields.pop(BigramPostings.FIELD))
                        docnum += 1
                        built.append(fields)
                session.expunge_all()
                yield built


class _Helper:
    """``SEARCH_REBUILD_PROCS`` of 2 or more: a forked helper process reads the database,
    builds the documents and cuts their bigrams (``_built_batches``) while this process
    adds them to the Whoosh writer, so a rebuild uses two cores (about half of the work
    each). The helper sends each batch of documents, then the bigram postings in chunks,
    through a pipe. Whoosh's own multiprocessing writer (``procs=`` of ``ix.writer``) is
    not used: with schema version 1 it was slower than one process (5,000 documents:
    25-46 s against 22 s), and it would bypass ``BigramPostings``."""

    TERMS_PER_MESSAGE = 20_000

    def __init__(self, process, conn):
        self.process = process
        self.conn = conn

    @classmethod
    def start(cls) -> _Helper:
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=cls._run, args=(send,), daemon=True)
        process.start()
        send.close()
        return cls(process, receive)

    @classmethod
    def _run(cls, send) -> None:
        try:
            db.engine.dispose(close=False)  # never share the parent's connections
            bulk = BigramPostings()
            for batch in _built_batches(bulk):
                send.send(("batch", batch))
            terms = list(bulk.terms.items())
            bulk.terms = {}
            for start in range(0, len(terms), cls.TERMS_PER_MESSAGE):
                send.send(("terms", terms[start:start + cls.TERMS_PER_MESSAGE]))
            send.send(("done", None))
        except BaseException:
            send.send(("error", traceback.format_exc()))
        finally:
            send.close()

    def batches(self, bulk: BigramPostings) -> Iterator[list[dict]]:
        while True:
            try:
                kind, payload = self.conn.recv()
            except EOFError:
                raise RuntimeError("search rebuild helper process died") from None
            if kind == "batch":
                yield payload
            elif kind == "terms":
                bulk.terms.update(payload)
            elif kind == "done":
                break
            else:
                raise RuntimeError(f"search rebuild helper failed:\n{payload}")
        self.conn.close()
        self.process.join()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.conn.close()


class BigramPostings:
    """The bigram field's postings of a rebuild, collected in arrays and written block by
    block, instead of one posting at a time through Whoosh's sorting pool and field writer
    (a few microseconds of Python per posting: most of the rebuild time, with ~280
    bigram postings per document).

    ``attach`` hooks the writer's field writer: when the writer commits, the bigram field
    is written first (its terms in order, the blocks exactly as Whoosh's
    ``W3PostingsWriter`` lays them out), then Whoosh writes the other fields from its
    pool as usual. Whoosh gives field ids in the order fields are started, and the term
    table is ordered by (field id, term), so the bigram field going first keeps it
    ordered. Memory: about 6 bytes per posting (1.7 GB at a million documents).
    Incremental updates still go through Whoosh's own path; the segments read the same.
    """

    FIELD = "bigram"

    def __init__(self):
        self.terms: dict[str, tuple[array, array]] = {}

    @classmethod
    def attach(cls, writer) -> BigramPostings:
        bulk = cls()
        fieldwriter = writer.fieldwriter
        add_postings = fieldwriter.add_postings

        def add_bigrams_first(schema, lengths, items):
            bulk.write(fieldwriter, schema)
            add_postings(schema, lengths, items)

        fieldwriter.add_postings = add_bigrams_first
        return bulk

    def add(self, docnum: int, folded: str) -> None:
        """Add a document's bigram-field value (already ``fold``-ed, as the builders give
        it: folding again would change nothing)."""
        terms = self.terms
        get = terms.get
        for gram, n in Counter(bigrams(folded)).items():
            entry = get(gram)
            if entry is None:
                entry = terms[gram] = (array("I"), array("I"))
            entry[0].append(docnum)
            entry[1].append(n)

    #: Terms with fewer postings than this keep them in the term table instead of a block
    #: of the postings file (most terms are rare runs of letters and digits: plates, times,
    #: amounts). Whoosh reads such terms, but its own writer cannot write them (2.7.5 calls
    #: a missing ``W3TermInfo.set_inline``), so only this writer does.
    INLINE_BELOW = 16

    def write(self, fieldwriter, schema) -> None:
        """Write the terms in order, each as Whoosh's ``W3PostingsWriter`` would (the same
        bytes: magic, then per block its length, pickled info and pickled (id deltas,
        weights, values)), with C-level list operations instead of per-posting Python."""
        fieldwriter.start_field(self.FIELD, schema[self.FIELD])
        postfile = fieldwriter._postfile
        tindex = fieldwriter._tindex
        limit = fieldwriter._postwriter._blocklimit
        field_key = pack_ushort(fieldwriter._fieldid)
        nolength = length_to_byte(None), length_to_byte(0)
        for gram in sorted(self.terms, key=lambda g: g.encode("utf-8")):
            docs, freqs = self.terms[gram]
            n = len(docs)
            terminfo = W3TermInfo()
            terminfo._weight = float(sum(freqs))
            terminfo._df = n
            terminfo._maxlength = 0
            terminfo._maxweight = float(max(freqs))
            terminfo._minid, terminfo._maxid = docs[0], docs[-1]
            if n < self.INLINE_BELOW:
                terminfo.set_inlined(docs, [float(f) for f in freqs],
                                     [pack_uint(f) for f in freqs])
            else:
                start = postfile.tell()
                postfile.write(WHOOSH3_HEADER_MAGIC)
                for first in range(0, n, limit):
                    ids = docs[first:first + limit]
                    fr = freqs[first:first + limit]
                    k = len(ids)
                    deltas = tuple(map(operator.sub, ids, [0, *ids[:-1]]))
                    if fr.count(1) == k:
                        weights = None
                    elif fr.count(fr[0]) == k:
                        weights = float(fr[0])
                    else:
                        weights = tuple(map(float, fr))
                    data = dumps((deltas, weights, struct.pack(f"!{k}I", *fr)), 2)
                    info = dumps((k, ids[-1], float(max(fr)), 0, *nolength), 2)
                    size = len(info) + len(data)
                    postfile.write_int(-size if first + limit >= n else size)
                    postfile.write(info)
                    postfile.write(data)
                terminfo.set_extent(start, postfile.tell() - start)
            tindex.add(field_key + gram.encode("utf-8"), terminfo.to_bytes())
        fieldwriter.finish_field()
        self.terms = {}


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


#: set in a session's ``info`` when it wrote a search outbox row (see drain_after_commit)
_QUEUED = "search_outbox_written"


@sa.event.listens_for(SearchOutbox, "after_insert")
def _outbox_written(_mapper, _connection, row: SearchOutbox) -> None:
    session = object_session(row)
    if session is not None:
        session.info[_QUEUED] = True


@sa.event.listens_for(Session, "after_rollback")
def _outbox_rolled_back(session: Session) -> None:
    session.info.pop(_QUEUED, None)


def drain_after_commit() -> None:
    """Index what the transaction just committed, when the app indexes in-process
    (``SEARCH_INLINE``). A failure is logged and never reaches the request: the outbox
    rows stay after the cursor for the next pass.

    Only a transaction that wrote an outbox row starts a pass: the others (a sign-in, a
    submission count, a mail status) would take the index's writer lock and read the
    outbox for nothing. Rows an earlier pass left are applied with the next case change,
    or by ``oversight index``."""
    if not has_app_context() or not current_app.config.get("SEARCH_INLINE"):
        return
    if not db.session.info.pop(_QUEUED, False):
        return
    try:
        index_pending(lock_timeout=current_app.config["SEARCH_INLINE_LOCK_SECONDS"])
    except Exception:
        log.exception("in-process search indexing failed; the outbox keeps the rows")
