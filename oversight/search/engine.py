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
segment, in one piece, and cached compactly (numbers as arrays, text as a code per document
and the distinct values); a segment's values never change (deletions are applied through
the scope), so a commit of one document does not make the next search re-read the big
segment. Each term's posting-block directory is cached the same way, so a block is found by
bisection rather than by reading every block header before it.

It reads the W3 codec's posting blocks directly (``W3LeafMatcher`` internals of the pinned
``whoosh-reloaded`` 2.7.5); ``tests/search`` checks the results against a plain scan of the
stored text, so a codec change would fail loudly there.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import heapq
import math
import mmap
import struct
import sys
import threading
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, compress, filterfalse, repeat
from itertools import count as numbering_from
from operator import add, truediv
from pickle import loads
from typing import Any

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

class SegmentCache:
    """Values computed from one segment (which never changes), least recently used first
    out, within a budget of bytes. (A limit on the number of entries would let the small
    segments of a stream of indexer commits, seven entries each, push out the big
    segment's columns, which take seconds to read back at a million documents.)"""

    def __init__(self, budget: int):
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: tuple, value, size: int):
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            self._items[key] = (value, size)
            self.used += size
            while self.used > self.budget and len(self._items) > 1:
                _key, (_value, dropped) = self._items.popitem(last=False)
                self.used -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0


#: Columns and length sums of segments: 15 MB for a segment of a million documents.
_columns = SegmentCache(64 << 20)
#: Organs' scopes, per segment (``_segment_scope``) and per searcher (``Engine.scope``),
#: each within this many bytes. A scope takes 4 bytes a document, and a document is in the
#: scope of each organ above it: a worker that had read every organ's scope held 23 MB
#: more at a million documents (2.9 million numbers, twice), growing with the data.
#: Bounded, the scopes in use stay (the largest demo one, Beijing's 300,000 documents at a
#: million, is 1.2 MB), and one dropped is read again from its posting blocks in 12–18 ms.
SCOPES_BUDGET = 8 << 20
_scopes = SegmentCache(SCOPES_BUDGET)


def _nbytes(value) -> int:
    if isinstance(value, Codes):
        return _nbytes(value.codes) + 64 * len(value.values)
    if isinstance(value, array):
        return len(value) * value.itemsize
    return 64


class Codes:
    """A text column of one segment, compactly: a code per document (a byte for up to 256
    distinct values, 2 bytes up to 65,536, else 4) and the distinct values
    (``values[codes[docnum]]``). The text columns hold a few distinct values each (case
    types, states, organs, category sets): as a list of strings, a million documents cost
    8 MB a column in every worker."""

    __slots__ = ("codes", "values")

    def __init__(self, codes: array, values: list[str]):
        self.codes = codes
        self.values = values

    def mask(self, test) -> bytes:
        """One byte per distinct value: 1 where ``test(value)``."""
        return bytes(1 if test(v) else 0 for v in self.values)


def _segment_key(reader) -> tuple:
    segment = reader.segment()
    return (id(reader.storage()) if segment is None else segment.segid,
            reader.doc_count_all())


def _column_values(reader, name: str):
    """All values of a column of one segment reader (an ``array`` of numbers, or ``Codes``
    for text), cached by segment id."""
    key = (_segment_key(reader), name)
    values = _columns.get(key)
    if values is not None:
        return values
    count = reader.doc_count_all()
    if not reader.has_column(name):  # a segment written before the column existed
        values = array("Q" if name == "created" else "I", [0]) * count \
            if name in ("created", "length") else Codes(array("B", [0]) * count, [""])
    else:
        col = reader.column_reader(name, translate=False)
        if name == "created":
            values = _numbers(col, "Q", count)
        elif name == "length":
            values = _numbers(col, "I", count)
            values = _narrowest(values, max(values, default=0))
        else:
            values = _codes(col)
    return _columns.put(key, values, _nbytes(values))


def _numbers(col, typecode: str, count: int) -> array:
    """A numeric column as an array, read in one piece: Whoosh's ``NumericColumn`` keeps
    big-endian fixed-width values, and leaves out a tail of default values. (Reading it
    value by value through Whoosh took seconds a column at a million documents, on the
    first search of every worker.)"""
    out = array(typecode)
    fixed = getattr(col, "_fixedlen", None)
    if fixed != out.itemsize or not hasattr(col, "_basepos"):
        return array(typecode, col)  # another reader: the generic, slower way
    stored = min(col._count, count)
    out.frombytes(col._dbfile.get(col._basepos, stored * fixed))
    _unmap(col._dbfile)
    if sys.byteorder == "little":
        out.byteswap()
    if stored < count:
        out.extend(repeat(col._default, count - stored))
    return out


def _unmap(dbfile) -> None:
    """Let go of the mapped pages of a column file once its values are copied into the
    cache: nothing reads them again, and mapped, they stayed in each worker's resident
    memory (60 MB of the 146 MB of mapped index a worker held at a million documents).
    The pages stay in the page cache; a later read maps them again."""
    source = getattr(dbfile, "file", None)
    if isinstance(source, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        source.madvise(mmap.MADV_DONTNEED)


def _codes(col) -> Codes:
    """A ``VarBytesColumn`` as ``Codes``: its data (the values one after another, in
    document order) read in one piece and cut by its offsets and lengths, each distinct
    value numbered as it first appears. A million documents take about 0.35 s a column,
    once per segment (value by value through Whoosh: seconds)."""
    numbering: defaultdict[bytes, int] = defaultdict(numbering_from().__next__)
    code = numbering.__getitem__
    if hasattr(col, "_offsets") and hasattr(col, "_lengths") and hasattr(col, "_basepos"):
        offsets, lengths = col._offsets, col._lengths
        size = sum(lengths)
        data = col._dbfile.get(col._basepos, size) if size else b""
        _unmap(col._dbfile)
        codes = array("I", [code(data[o:o + n]) for o, n in zip(offsets, lengths,
                                                                  strict=True)])
    else:
        codes = array("I", map(code, col))
    return Codes(_narrowest(codes, len(numbering) - 1),
                 [v.decode("utf-8") for v in numbering])


def _narrowest(values: array, largest: int) -> array:
    """``values`` (none above ``largest``, none negative) in the narrowest unsigned type
    that holds them: a case type's or a state's code in a byte, the lengths in two
    (at a million documents, 1–2 MB a column in every worker)."""
    for typecode in ("B", "H"):
        if largest < 1 << 8 * array(typecode).itemsize:
            return values if values.typecode == typecode else array(typecode, values)
    return values


class MappedBytes:
    """A ``VarBytesColumn`` of one segment read value by value from its mapped file.

    Whoosh's reader copies the column's whole offset and length tables into arrays as it
    opens: at a million documents 6 MB for ``flat`` and 6 MB for the stored fields, kept
    in every worker for the index generation (and 5 MB again for ``key`` at each date
    sort). Here a value's offset and length are unpacked from the mapped tables when it is
    read, so a case page or a search holds only what it reads.

    ``of`` answers None where this cannot apply (a file not mapped, or a column too
    small for Whoosh to have written its offsets: then its reader is cheap anyway)."""

    __slots__ = ("source", "base", "_offsets", "_lengths", "_offset", "_length")

    def __init__(self, source: mmap.mmap, base: int, offsets: int, offset_code: str,
                 lengths: int, length_code: str):
        self.source, self.base = source, base
        self._offsets, self._lengths = offsets, lengths
        self._offset = struct.Struct(">" + offset_code)
        self._length = struct.Struct(">" + length_code)

    @classmethod
    def of(cls, reader, name: str) -> MappedBytes | None:
        perdoc = getattr(reader, "_perdoc", None)
        if perdoc is None or not perdoc.has_column(name):
            return None
        files = perdoc._colfiles
        if name not in files:
            files[name] = perdoc._get_column_file(name)
        dbfile, base, length = files[name]
        source = getattr(dbfile, "file", None)
        if not isinstance(source, mmap.mmap) or length < 3:
            return None
        # the layout ``VarBytesColumn.Writer.finish`` writes: the values, the lengths,
        # the offsets, the two type codes and "X" (without "X": no offsets were written)
        last = base + length - 1
        if source[last:last + 1] != b"X":
            return None
        length_code, offset_code = chr(source[last - 2]), chr(source[last - 1])
        if not all(code in "BHIiLlQq" and array(code).itemsize == struct.calcsize(">" + code)
                   for code in (length_code, offset_code)):
            return None  # a type whose size on disk this platform reads differently
        count = reader.doc_count_all()
        offsets = last - 2 - count * array(offset_code).itemsize
        lengths = offsets - count * array(length_code).itemsize
        return cls(source, base, offsets, offset_code, lengths, length_code)

    def span(self, docnum: int) -> tuple[int, int]:
        """Where the value of ``docnum`` starts in the mapped file, and its length."""
        offset, = self._offset.unpack_from(self.source,
                                           self._offsets + docnum * self._offset.size)
        length, = self._length.unpack_from(self.source,
                                           self._lengths + docnum * self._length.size)
        return self.base + offset, length

    def __getitem__(self, docnum: int) -> bytes:
        start, length = self.span(docnum)
        return self.source[start:start + length]


def _stored_value(raw: bytes) -> dict[str, Any]:
    """A document's stored fields from their column value (Whoosh's ``STORED_COLUMN``: a
    pickle, compressed with zlib; empty for a document that stored nothing)."""
    return loads(zlib.decompress(raw)) if raw else {}


def _ending_with(reader) -> dict[str, list[str]]:
    """{character: the two-character terms of one segment's bigram field ending with it},
    read from the lexicon once per segment (for lone-character needles)."""
    key = (_segment_key(reader), "<ending>")
    table = _columns.get(key)
    if table is None:
        table = {}
        for term in reader.lexicon(FIELD):
            term = term.decode("utf-8") if isinstance(term, bytes) else term
            if len(term) == 2 and not term.isascii():
                table.setdefault(term[1], []).append(term)
        _columns.put(key, table, 64 * sum(map(len, table.values())))
    return table


def _segment_scope(reader, organ_id: int) -> array:
    """The documents of one segment in an organ's subtree, deleted ones included (the
    engine takes those out for its generation), cached: an index commit makes a new
    generation, and the city bureau's scope took 165 ms to read again at a million
    documents, for the first search of each generation in each worker."""
    segment = _segment_key(reader)
    key = (segment, "<scope>", organ_id)
    docs = _scopes.get(key)
    if docs is None:
        text = str(organ_id)
        try:
            matcher = reader.postings("organ_path", text)
        except TermNotFound:
            docs = array("I")
        else:
            if isinstance(matcher, FilterMatcher):  # Whoosh's filter of deleted documents
                matcher = matcher.child
            docs = _doc_ids(matcher, (segment, "organ_path", text))
        _scopes.put(key, docs, _nbytes(docs))
    return docs


# --- the process's heap ---------------------------------------------------------------------

#: Allocations from this size up are mapped on their own and unmapped when freed.
MMAP_THRESHOLD = 128 * 1024
_heap_set = False


def _heap_gives_back() -> None:
    """Fix glibc's mmap threshold at its default, once per process. A wide search builds
    lists and dicts of a quarter of a million entries; glibc raises its threshold after the
    first such block is freed, so the later ones came from the heap, and the heap, left
    fragmented, never shrank: 20 MB more resident memory in each worker at a million
    documents. With the threshold fixed, each is unmapped when freed (measured: no change
    in the search's time). Other C libraries: nothing to do."""
    global _heap_set
    if _heap_set:
        return
    _heap_set = True
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold = -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, MMAP_THRESHOLD)


# --- one engine per searcher (index generation) ---------------------------------------------


#: The columns searches read whole and keep per segment (``_column_values``): dates and
#: lengths (ranking, date filters), and the filters' and facets' text columns.
CACHED_COLUMNS = ("created", "length", "case_type", "state", "organ_id", "category_set")


class Engine:
    """Reads one searcher's index. Not shared between threads (the pool hands a searcher to
    one request at a time); its caches live as long as the searcher."""

    def __init__(self, searcher):
        _heap_gives_back()
        self.searcher = searcher
        self.reader = searcher.reader()
        self.leaves = [(r, off, r.doc_count_all(), r.deleted_docs_set if r.has_deletions()
                        else frozenset()) for r, off in self.reader.leaf_readers()]
        self.doc_count = max(1, self.reader.doc_count())
        self._df: dict[tuple[str, str], int] = {}
        #: {(column name, leaf): its values read one by one}, see ``_column``
        self._readers: dict[tuple[str, int], Any] = {}
        self._scopes = SegmentCache(SCOPES_BUDGET)
        self._avg_length: float | None = None

    def warm(self) -> None:
        """Read every segment's CACHED_COLUMNS into the cache now (a new worker, before its
        first request), instead of on the first search or case page that needs them."""
        for reader, *_rest in self.leaves:
            for name in CACHED_COLUMNS:
                _column_values(reader, name)

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
                local = want[lo:hi] if not offset else [d - offset for d in want[lo:hi]]
            try:
                matcher = reader.postings(field, text)
            except TermNotFound:
                continue
            if isinstance(matcher, FilterMatcher):
                matcher = matcher.child
            found = _read(matcher, local, (_segment_key(reader), field, text))
            if want is None and deleted:
                for d in deleted:
                    found.pop(d, None)
            if offset:
                out.update(zip(map(offset.__add__, found), found.values(), strict=True))
            elif out:
                out.update(found)
            else:
                out = found
        return out

    def docs(self, field: str, text: str, want: list[int] | None = None) -> list[int]:
        return sorted(self.postings(field, text, want))

    # ---- scope and filters

    def scope(self, organ_id: int) -> Sequence[int]:
        """The live documents of an organ's subtree, sorted: an array (4 bytes a document,
        not a Python int each: a city bureau's 300,000 documents took 11 MB as a list).
        An index of one segment without deletions (a fresh rebuild) uses the segment's
        own; otherwise the deletions are taken out and the segments' numbers shifted
        into a copy, kept for this searcher (within SCOPES_BUDGET)."""
        if len(self.leaves) == 1 and not self.leaves[0][3]:
            return _segment_scope(self.leaves[0][0], organ_id)
        docs = self._scopes.get(organ_id)
        if docs is None:
            docs = array("I")
            for reader, offset, _count, deleted in self.leaves:
                part = _segment_scope(reader, organ_id)
                if deleted:
                    part = filterfalse(deleted.__contains__, part)
                docs.extend(map(offset.__add__, part) if offset else part)
            self._scopes.put(organ_id, docs, _nbytes(docs))
        return docs

    def _parts(self, docnums: Sequence[int]):
        """(leaf index, this leaf's part of ``docnums`` (sorted), the same as the leaf's own
        numbers) for each leaf holding some of them."""
        for i, (_reader, offset, count, _deleted) in enumerate(self.leaves):
            lo, hi = bisect_left(docnums, offset), bisect_left(docnums, offset + count)
            if lo < hi:
                part = docnums[lo:hi]
                yield i, part, (part if not offset else [d - offset for d in part])

    def _values(self, leaf: int, name: str):
        return _column_values(self.leaves[leaf][0], name)

    def column(self, name: str, docnums: Sequence[int]) -> list:
        """The values of a cached column for ``docnums`` (sorted)."""
        out: list = []
        for leaf, _part, local in self._parts(docnums):
            values = self._values(leaf, name)
            if isinstance(values, Codes):
                out += map(values.values.__getitem__, map(values.codes.__getitem__, local))
            else:
                out += map(values.__getitem__, local)
        return out

    def where(self, docnums: Sequence[int], name: str, test) -> list[int]:
        """The documents of ``docnums`` (sorted) whose value in a cached text column passes
        ``test`` (called once per distinct value)."""
        out: list[int] = []
        for leaf, part, local in self._parts(docnums):
            values = self._values(leaf, name)
            ok = values.mask(test)
            out += compress(part, map(ok.__getitem__, map(values.codes.__getitem__, local)))
        return out

    def counts(self, name: str, docnums: Sequence[int]) -> Counter:
        """{value: how many of ``docnums`` (sorted) hold it} for a cached text column."""
        out: Counter = Counter()
        for leaf, _part, local in self._parts(docnums):
            values = self._values(leaf, name)
            picked = map(values.codes.__getitem__, local)
            if len(values.values) <= 256:  # count each code's byte in C
                picked = bytes(picked)
                for code, value in enumerate(values.values):
                    out[value] += picked.count(code)
            else:
                for code, n in Counter(picked).items():
                    out[values.values[code]] += n
        for value in [v for v, n in out.items() if not n]:
            del out[value]
        return out

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
                return self._column("flat", i)[docnum - offset].decode("utf-8")
        raise IndexError(docnum)

    def _column(self, name: str, leaf: int):
        """A column's values of one leaf, read one by one: ``MappedBytes``, else Whoosh's
        own reader (None for ``_stored``, which has none: ``stored_fields`` then asks the
        segment), kept for this searcher."""
        key = (name, leaf)
        if key not in self._readers:
            reader = self.leaves[leaf][0]
            col = MappedBytes.of(reader, name)
            if col is None and name != "_stored":
                col = reader.column_reader(name, translate=False)
            self._readers[key] = col
        return self._readers[key]

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
            col = self._column("flat", i)
            if isinstance(col, MappedBytes):
                source, span = col.source, col.span
                for d in docnums[lo:hi]:
                    start, length = span(d - offset)
                    n = source[start:start + length].count(needle)
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
        for leaf, _part, local in self._parts(docnums):
            col = self._column("key", leaf)
            out += [col[d].decode("utf-8") for d in local]
        return out

    def stored_fields(self, docnums: Sequence[int]) -> list[dict[str, Any]]:
        """The stored fields of ``docnums`` (any order), as ``searcher.stored_fields``
        gives them, without Whoosh's reader keeping the column's tables."""
        out = []
        for d in docnums:
            for leaf, (reader, offset, count, _deleted) in enumerate(self.leaves):
                if offset <= d < offset + count:
                    col = self._column("_stored", leaf)
                    out.append(reader.stored_fields(d - offset) if col is None
                               else _stored_value(col[d - offset]))
                    break
            else:
                raise IndexError(d)
        return out

    # ---- ranking

    def avg_length(self) -> float:
        if self._avg_length is None:
            total = docs = 0
            for reader, _offset, count, _deleted in self.leaves:
                key = (_segment_key(reader), "<length-sum>")
                length = _columns.get(key)
                if length is None:
                    length = _columns.put(key, sum(_column_values(reader, "length")), 64)
                total += length
                docs += count
            self._avg_length = max(1.0, total / docs) if docs else 1.0
        return self._avg_length

    def rank(self, docnums: list[int], tfs: list[tuple[float, dict[int, float]]],
             limit: int) -> list[int]:
        """The ``limit`` best of ``docnums`` (sorted) by BM25 over ``tfs`` ((idf, {docnum:
        term frequency}) per positive needle); ties in document order."""
        if limit <= 0:
            return []
        avg = self.avg_length()
        # BM25 per needle: boost * f / (f + norm), norm = K1 * (1 - B + B * length / avg),
        # computed a whole column at a time by C-level maps (a city bureau's search for a
        # word in every case scores a quarter of a million documents). A document of
        # length 0 has no text, so it matches no needle and scores 0 whatever its norm.
        norms = list(map((K1 * (1 - B)).__add__,
                         map((K1 * B / avg).__mul__, self.column("length", docnums))))
        scores: list[float] = [0.0] * len(docnums)
        for idf, tf in tfs:
            fs = list(map(tf.get, docnums, repeat(0.0)))
            part = map((idf * (K1 + 1)).__mul__, map(truediv, fs, map(add, fs, norms)))
            scores = list(map(add, scores, part))
        return [docnums[i] for i in _top(scores, limit)]


def _top(scores: list[float], limit: int) -> list[int]:
    """The positions of the ``limit`` highest scores, best first, ties in position order.
    The threshold comes from the scores alone (compared in C), then only the positions
    that reach it are sorted."""
    if len(scores) <= limit:
        return sorted(range(len(scores)), key=lambda i: -scores[i])
    threshold = heapq.nlargest(limit, scores)[-1]
    reach = list(compress(range(len(scores)), map(threshold.__le__, scores)))
    return sorted(reach, key=lambda i: -scores[i])[:limit]


# --- posting blocks --------------------------------------------------------------------------

#: Block directories of terms (26 bytes a block of 128 postings: a bigram in every one of a
#: million documents, 200 KB).
_blocks = SegmentCache(16 << 20)


class _Directory:
    """What the block headers of one term in one segment say, in block order: the last
    document number, where the data starts and ends, and whether it is compressed.
    ``resume`` is where the next unread header is (None once the last block is read)."""

    __slots__ = ("maxids", "starts", "ends", "packed", "resume")

    def __init__(self):
        self.maxids, self.starts, self.ends = array("q"), array("q"), array("q")
        self.packed = bytearray()  # appended last: its length is the blocks fully known
        self.resume: int | None = -1  # -1: not started

    def covers(self, upto: int | None) -> bool:
        """Whether the blocks fully known reach document ``upto`` (None: the last block).
        Another thread may be appending a block meanwhile: only ``packed`` counts."""
        known = len(self.packed)
        if upto is None or self.resume is None:
            return self.resume is None and known == len(self.maxids)
        return known > 0 and self.maxids[known - 1] >= upto


_extending = threading.Lock()


def _directory(key: tuple, m: W3LeafMatcher, upto: int | None) -> _Directory:
    """The block directory of one term in one segment, cached, read as far as block
    holding document ``upto`` (None: to the end) and no further, and continued from there
    when a later search needs more. Whoosh finds a block by reading every block header
    before it (a pickle each): for a common bigram at a million documents that was most
    of a search's time. With the headers kept, a block is found by bisection; reading
    them only as far as needed keeps a term's first search as cheap as Whoosh's walk."""
    found = _blocks.get(key)
    if found is not None and found.covers(upto):
        return found
    with _extending:
        found = _blocks.get(key) or _Directory()
        if not found.covers(upto):
            if found.resume >= 0:
                m._goto(found.resume)  # the matcher starts at the first block
            while True:
                found.maxids.append(m._maxid)
                found.starts.append(m._dataoffset)
                found.ends.append(m._nextoffset)
                found.packed.append(1 if m._compression else 0)
                if m._lastblock:
                    found.resume = None
                    break
                found.resume = m._nextoffset
                if upto is not None and m._maxid >= upto:
                    break
                m._goto(m._nextoffset)
        return _blocks.put(key, found, 26 * len(found.maxids) + 200)


def _doc_ids(matcher, key: tuple) -> array:
    """The document numbers of one segment's whole posting list, as an array, block by
    block. (Through ``_read``, a city bureau's scope at a million documents was first a
    list of 300,000 (number, weight) pairs: 28 MB for a moment, and the allocator kept
    15 MB of it in the worker for good, pinned by the few objects the same request kept.)"""
    if not isinstance(matcher, W3LeafMatcher):
        return array("I", _read(matcher, None, key))
    blocks = _directory(key, matcher, None)
    get = matcher._postfile.get
    out = array("I")
    for start, end, packed in zip(blocks.starts, blocks.ends, blocks.packed, strict=True):
        data = get(start, end - start)
        out.extend(accumulate(loads(zlib.decompress(data) if packed else data)[0]))
    return out


def _read(matcher, want: Sequence[int] | None, key: tuple) -> dict[int, float]:
    """{local docnum: weight} of one segment's posting list, for the documents in ``want``
    (sorted local numbers) or all. Only the blocks that can hold one of ``want`` are
    unpickled; within a block, the cheaper side is walked in Python: every posting is
    taken when ``want`` holds every number the block could hold (a scope's contiguous run),
    else the wanted numbers are looked up in the block, or the block's postings in them.
    The pairs go straight into the dict (a list of them first cost a tuple each, 64 bytes
    more a match for the time of the request)."""
    out: dict[int, float] = {}
    if isinstance(matcher, ListMatcher):
        ids = matcher._ids
        weights = matcher._weights or [1.0] * len(ids)
        pairs = zip(ids, weights, strict=True)
        if want is None:
            return dict(pairs)
        wanted = set(want)
        return {d: w for d, w in pairs if d in wanted}
    if not isinstance(matcher, W3LeafMatcher):  # another codec: the generic, slower way
        wanted = None if want is None else set(want)
        while matcher.is_active():
            d = matcher.id()
            if wanted is None or d in wanted:
                out[d] = matcher.weight()
            matcher.next()
        return out
    blocks = _directory(key, matcher, None if want is None else want[-1])
    maxids, starts, ends, packed = blocks.maxids, blocks.starts, blocks.ends, blocks.packed
    known = len(packed)
    get = matcher._postfile.get
    if want is None:
        first, last = 0, known - 1
    else:
        first = bisect_left(maxids, want[0], 0, known)
        last = min(bisect_left(maxids, want[-1], 0, known), known - 1)
    i = 0
    for b in range(first, last + 1):
        prev, top = (maxids[b - 1] if b else -1), maxids[b]
        if want is not None:
            i = bisect_right(want, prev, i)
            j = bisect_right(want, top, i)
            if i == j:
                continue
        data = get(starts[b], ends[b] - starts[b])
        if packed[b]:
            data = zlib.decompress(data)
        deltas, weights, _values = loads(data)
        ids = list(accumulate(deltas))
        if weights is None or isinstance(weights, float):
            weights = [1.0 if weights is None else weights] * len(ids)
        if want is None or j - i == top - prev:  # every number the block may hold
            out.update(zip(ids, weights, strict=True))
        elif j - i < len(ids):
            in_block = dict(zip(ids, weights, strict=True))
            out.update((d, in_block[d]) for d in want[i:j] if d in in_block)
        else:
            wanted = set(want[i:j])
            out.update(p for p in zip(ids, weights, strict=True) if p[0] in wanted)
        if want is not None:
            i = j
    return out
