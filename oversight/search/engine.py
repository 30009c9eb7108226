"""Matching, counting and ranking over the index, without Whoosh's query machinery.

Whoosh is pure Python and its matchers cost microseconds per posting: a positional phrase
over bigrams, or even a plain term in every document, took hundreds of milliseconds at 20k
documents. Every search here is scoped to an organ subtree, so this module reads only the
posting blocks that can hold a document in scope and works on plain Python sets and lists:

1. The scope (``organ_path:<id>``) is read once per index generation as a sorted list of
   document numbers. A rebuild adds the documents ordered by organ path, so a subtree is a
   few contiguous runs of numbers and its postings sit in few blocks.
2. A needle (a word or a quoted phrase) is its bigrams (``analysis.bigrams``), rarest
   first. Each bigram's postings are read only in the blocks holding a remaining
   candidate (block max ids are in the block headers, so others are not even unpickled).
   After the two rarest, or once few candidates remain, the other Chinese bigrams are not
   read: the check below covers them (letter and digit runs are always read: they must be
   whole runs, which the check alone would not see).
3. A needle of more than one bigram is then checked on each candidate's ``flat`` column
   (the text with punctuation and spaces removed, UTF-8, read from the mapped file): the
   exact substring. So a match is exact, counts are exact, and no positions are indexed.
4. The matches are ranked by BM25 over the needles (term frequency: the posting weight of
   a one-bigram needle, or the occurrences of the needle in ``flat``; document length: the
   ``length`` column), computed only for the matches.

Column values used for facets, sorting, ranking and date filters are read once per
segment and cached (a segment's values never change; deletions are applied through the
scope), so a commit of one document does not make the next search re-read the big
segment.

It reads the W3 codec's posting blocks directly (``W3LeafMatcher`` internals of the pinned
``whoosh-reloaded`` 2.7.5); ``tests/search`` checks the results against a plain scan of the
stored text, so a codec change would fail loudly there.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import mmap
import threading
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from pickle import loads

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.mcore import ListMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound

FIELD = "bigram"
#: BM25 parameters.
K1, B = 1.2, 0.75
#: Below this many candidates, the remaining Chinese bigrams of a needle are not read from
#: the postings: checking the candidates' text is cheaper.
VERIFY_BELOW = 64
#: Nor are they after its this many rarest bigrams: the candidates rarely shrink further
#: (a bigram costs about a millisecond over a 7,500-document scope, the text check of a
#: thousand candidates three).
READ_GRAMS = 2


@dataclass(frozen=True)
class Needle:
    """A word or phrase to find: ``flat`` is what it must be a substring of (``flatten``
    of the text), ``grams`` its bigram-field terms. ``prefix`` marks a lone Chinese
    character (any bigram starting with it, or the character alone)."""

    flat: str
    grams: tuple[str, ...]
    prefix: bool = False

    @property
    def exact_by_postings(self) -> bool:
        return len(self.grams) == 1 and self.grams[0] == self.flat


# --- column values cached per segment --------------------------------------------------------

_columns: OrderedDict[tuple, Sequence] = OrderedDict()
_columns_lock = threading.Lock()
#: Columns of segments kept (a few columns of the few segments of one or two indexes).
COLUMN_CACHE_SIZE = 64


def _segment_key(reader) -> tuple:
    segment = reader.segment()
    return (id(reader.storage()) if segment is None else segment.segid,
            reader.doc_count_all())


def _column_values(reader, name: str) -> Sequence:
    """All values of a column of one segment reader, decoded, cached by segment id."""
    key = (_segment_key(reader), name)
    with _columns_lock:
        values = _columns.get(key)
        if values is not None:
            _columns.move_to_end(key)
            return values
    if not reader.has_column(name):
        values = [None] * reader.doc_count_all()
    else:
        col = reader.column_reader(name, translate=False)
        # Numbers are kept as arrays (8 or 4 bytes a document, not a Python int each):
        # at 100k documents the two columns took 7 MB of every worker as lists.
        if name == "created":
            values = array("Q", col)
        elif name == "length":
            values = array("I", col.load())
        else:
            cache: dict[bytes, str] = {}
            values = []
            for raw in col:
                value = cache.get(raw)
                if value is None:
                    value = cache[raw] = raw.decode("utf-8")
                values.append(value)
    with _columns_lock:
        _columns[key] = values
        while len(_columns) > COLUMN_CACHE_SIZE:
            _columns.popitem(last=False)
    return values


def _ending_with(reader) -> dict[str, list[str]]:
    """{character: the two-character terms of one segment's bigram field ending with it},
    read from the lexicon once per segment (for lone-character needles)."""
    key = (_segment_key(reader), "<ending>")
    with _columns_lock:
        table = _columns.get(key)
    if table is None:
        table = {}
        for term in reader.lexicon(FIELD):
            term = term.decode("utf-8") if isinstance(term, bytes) else term
            if len(term) == 2 and not term.isascii():
                table.setdefault(term[1], []).append(term)
        with _columns_lock:
            _columns[key] = table
    return table


# --- one engine per searcher (index generation) ---------------------------------------------


class Engine:
    """Reads one searcher's index. Not shared between threads (the pool hands a searcher to
    one request at a time); its caches live as long as the searcher."""

    def __init__(self, searcher):
        self.searcher = searcher
        self.reader = searcher.reader()
        self.leaves = [(r, off, r.doc_count_all(), r.deleted_docs_set if r.has_deletions()
                        else frozenset()) for r, off in self.reader.leaf_readers()]
        self.doc_count = max(1, self.reader.doc_count())
        self._df: dict[tuple[str, str], int] = {}
        self._flat: dict[int, object] = {}
        self._scopes: dict[int, list[int]] = {}
        self._avg_length: float | None = None

    # ---- postings

    def doc_frequency(self, field: str, text: str) -> int:
        key = (field, text)
        df = self._df.get(key)
        if df is None:
            df = self._df[key] = self.reader.doc_frequency(field, text)
        return df

    def postings(self, field: str, text: str, want: list[int] | None
                 ) -> dict[int, float]:
        """{docnum: weight} of ``text`` in ``field``, for the documents in ``want`` (sorted
        global document numbers, none deleted) or, with None, every live document."""
        out: dict[int, float] = {}
        if want is not None and not want:
            return out
        for reader, offset, count, deleted in self.leaves:
            if want is None:
                local = None
            else:
                lo, hi = bisect_left(want, offset), bisect_left(want, offset + count)
                if lo == hi:
                    continue
                local = [d - offset for d in want[lo:hi]]
            try:
                matcher = reader.postings(field, text)
            except TermNotFound:
                continue
            if isinstance(matcher, FilterMatcher):
                matcher = matcher.child
            pairs = _read(matcher, local)
            if want is None and deleted:
                pairs = [p for p in pairs if p[0] not in deleted]
            if offset:
                out.update([(d + offset, w) for d, w in pairs])
            else:
                out.update(pairs)
        return out

    def docs(self, field: str, text: str, want: list[int] | None = None) -> list[int]:
        return sorted(self.postings(field, text, want))

    # ---- scope and filters

    def scope(self, organ_id: int) -> list[int]:
        docs = self._scopes.get(organ_id)
        if docs is None:
            docs = self._scopes[organ_id] = self.docs("organ_path", str(organ_id))
        return docs

    def column(self, name: str, docnums: list[int]) -> list:
        """The values of a cached column for ``docnums`` (sorted)."""
        out = []
        for reader, offset, count, _deleted in self.leaves:
            lo, hi = bisect_left(docnums, offset), bisect_left(docnums, offset + count)
            if lo == hi:
                continue
            values = _column_values(reader, name)
            out += [values[d - offset] for d in docnums[lo:hi]]
        return out

    def where(self, docnums: list[int], name: str, test) -> list[int]:
        """The documents of ``docnums`` (sorted) whose value in a cached column passes
        ``test``."""
        return [d for d, v in zip(docnums, self.column(name, docnums), strict=True)
                if test(v)]

    def created_between(self, docnums: list[int], start: dt.datetime | None,
                        end: dt.datetime | None) -> list[int]:
        from whoosh.util.times import datetime_to_long

        lo = datetime_to_long(start) if start else None
        hi = datetime_to_long(end) if end else None
        return [d for d, c in zip(docnums, self.column("created", docnums), strict=True)
                if (lo is None or c >= lo) and (hi is None or c <= hi)]

    # ---- needles

    def flat(self, docnum: int) -> str:
        """The ``flat`` column of one document."""
        for i, (_reader, offset, count, _deleted) in enumerate(self.leaves):
            if offset <= docnum < offset + count:
                return self._flat_column(i)[docnum - offset].decode("utf-8")
        raise IndexError(docnum)

    def _flat_column(self, leaf: int):
        col = self._flat.get(leaf)
        if col is None:
            col = self._flat[leaf] = self.leaves[leaf][0].column_reader("flat", translate=False)
        return col

    def occurrences(self, docnums: list[int], flat: str) -> dict[int, float]:
        """{docnum: occurrences of ``flat`` in its ``flat`` column} of ``docnums`` (sorted)
        that contain it. Compares UTF-8 bytes (a valid UTF-8 string occurs in another only
        at character boundaries, so this is the substring test on text), slicing the
        mapped column file directly when it can."""
        needle = flat.encode("utf-8")
        out: dict[int, float] = {}
        for i, (_reader, offset, count, _deleted) in enumerate(self.leaves):
            lo, hi = bisect_left(docnums, offset), bisect_left(docnums, offset + count)
            if lo == hi:
                continue
            col = self._flat_column(i)
            source = getattr(getattr(col, "_dbfile", None), "file", None)
            if isinstance(source, mmap.mmap) and hasattr(col, "_offsets"):
                base, offsets, lengths = col._basepos, col._offsets, col._lengths
                for d in docnums[lo:hi]:
                    start = base + offsets[d - offset]
                    n = source[start:start + lengths[d - offset]].count(needle)
                    if n:
                        out[d] = float(n)
            else:
                for d in docnums[lo:hi]:
                    n = col[d - offset].count(needle)
                    if n:
                        out[d] = float(n)
        return out

    def match(self, needle: Needle, want: list[int]) -> dict[int, float]:
        """{docnum: occurrences} of ``needle`` among ``want`` (sorted document numbers)."""
        if not want:
            return {}
        if needle.prefix:
            return self._match_prefix(needle, want)
        if needle.exact_by_postings:
            return self.postings(FIELD, needle.grams[0], want)
        grams = sorted(set(needle.grams), key=lambda g: self.doc_frequency(FIELD, g))
        cands = want
        for i, gram in enumerate(grams):
            if (i >= READ_GRAMS or i and len(cands) < VERIFY_BELOW) \
                    and all(not g.isascii() for g in grams[i:]):
                break  # the text check below covers the rest
            cands = sorted(self.postings(FIELD, gram, cands))
            if not cands:
                return {}
        return self.occurrences(cands, needle.flat)

    def _match_prefix(self, needle: Needle, want: list[int]) -> dict[int, float]:
        """A lone Chinese character: the bigrams that start or end with it, or itself."""
        char = needle.grams[0]
        out: dict[int, float] = {}
        terms = {char}
        for reader, _offset, _count, _deleted in self.leaves:
            terms.update(t.decode("utf-8") if isinstance(t, bytes) else t
                         for t in reader.expand_prefix(FIELD, char))
            terms.update(_ending_with(reader).get(char, ()))
        for term in sorted(terms):
            for d, w in self.postings(FIELD, term, want).items():
                out[d] = out.get(d, 0.0) + w
        return out

    def idf_df(self, needle: Needle) -> int:
        """The needle's document frequency, estimated from above by its rarest bigram's
        (a lone character's: its own, at least)."""
        return min(self.doc_frequency(FIELD, g) for g in needle.grams)

    def idf(self, needle: Needle) -> float:
        """BM25 idf of the needle (from ``idf_df``)."""
        df = self.idf_df(needle)
        n = self.doc_count
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def stored_keys(self, docnums: list[int]) -> list[str]:
        """The ``key`` column of ``docnums`` (sorted), read directly (not cached)."""
        out = []
        for reader, offset, count, _deleted in self.leaves:
            lo, hi = bisect_left(docnums, offset), bisect_left(docnums, offset + count)
            if lo < hi:
                col = reader.column_reader("key", translate=False)
                out += [col[d - offset].decode("utf-8") for d in docnums[lo:hi]]
        return out

    # ---- ranking

    def avg_length(self) -> float:
        if self._avg_length is None:
            total = docs = 0
            for reader, _offset, _count, _deleted in self.leaves:
                values = _column_values(reader, "length")
                total += sum(v for v in values if v)
                docs += len(values)
            self._avg_length = max(1.0, total / docs) if docs else 1.0
        return self._avg_length

    def rank(self, docnums: list[int], tfs: list[tuple[float, dict[int, float]]],
             limit: int) -> list[int]:
        """The ``limit`` best of ``docnums`` (sorted) by BM25 over ``tfs`` ((idf, {docnum:
        term frequency}) per positive needle); ties in document order."""
        if limit <= 0:
            return []
        avg = self.avg_length()
        norms = [K1 * (1 - B + B * (length or avg) / avg)
                 for length in self.column("length", docnums)]
        scores = [0.0] * len(docnums)
        for idf, tf in tfs:
            boost = idf * (K1 + 1)
            get = tf.get
            for i, d in enumerate(docnums):
                f = get(d)
                if f:
                    scores[i] += boost * f / (f + norms[i])
        best = heapq.nlargest(limit, range(len(docnums)), key=lambda i: (scores[i], -i))
        return [docnums[i] for i in best]


def _read(matcher, want: list[int] | None) -> list[tuple[int, float]]:
    """(local docnum, weight) pairs of one segment's posting list, for the documents in
    ``want`` (sorted local numbers) or all. Reads whole blocks at C speed and skips blocks
    that hold none of ``want`` without unpickling them."""
    wanted = None if want is None else set(want)
    out: list[tuple[int, float]] = []
    if isinstance(matcher, ListMatcher):
        ids = matcher._ids
        weights = matcher._weights or [1.0] * len(ids)
        pairs = zip(ids, weights, strict=True)
        return list(pairs) if wanted is None else [p for p in pairs if p[0] in wanted]
    if not isinstance(matcher, W3LeafMatcher):  # another codec: the generic, slower way
        while matcher.is_active():
            d = matcher.id()
            if wanted is None or d in wanted:
                out.append((d, matcher.weight()))
            matcher.next()
        return out
    m = matcher
    first = want[0] if want else 0
    last = want[-1] if want else None
    n_want = len(want) if want is not None else 0
    prev_max = -1
    while True:
        block_max = m._maxid
        if block_max >= first:
            if want is not None:
                i = bisect_right(want, prev_max)
                needed = i < n_want and want[i] <= block_max
            else:
                needed = True
            if needed:
                data = m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset)
                if m._compression:
                    data = zlib.decompress(data)
                deltas, weights, _values = loads(data)
                ids = accumulate(deltas)
                if weights is None or isinstance(weights, float):
                    weight = 1.0 if weights is None else weights
                    if wanted is None:
                        out += [(d, weight) for d in ids]
                    else:
                        out += [(d, weight) for d in ids if d in wanted]
                else:
                    pairs = zip(ids, weights, strict=True)
                    out += pairs if wanted is None else [p for p in pairs if p[0] in wanted]
        if m._lastblock or (last is not None and block_max >= last):
            return out
        prev_max = block_max
        m._goto(m._nextoffset)
