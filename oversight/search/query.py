"""What a user types, turned into needles for ``engine`` (built in code), and the
highlighted snippet.

There is no Whoosh ``QueryParser`` here at all, so there is no field syntax (``organ:4`` is
the two words "organ" and "4"), no wildcards or prefixes (``*`` and ``?`` are ignored like
any other punctuation), no ranges, boosts or fuzzy terms. What a user may write:

- words, all required (AND): ``辅警 推搡``;
- ``"…"`` (also “…” and 「…」) for an exact phrase: the characters in this order, ignoring
  punctuation and spaces;
- ``OR`` (also ``|``) between two words or phrases: either will do;
- ``-word`` or ``NOT word`` to exclude.

A word and a quoted phrase match the same way: the document's text contains it, ignoring
case, full-width forms, punctuation and spaces (``analysis.flatten``); ``engine`` finds the
candidates through the bigram field and checks each one exactly. Quotes only keep words
with spaces between them together: ``"辅警 推搡"`` is the one string 辅警推搡. Runs of
letters and digits are matched whole (``BJ10001`` is not found by ``BJ1000``), as they
are indexed.

Version 1 matched a word also through an rjieba word field (so ``交通处理`` found
交通事故处理 as a bare word, though not as a phrase) and phrases through positional
bigrams. Measured on tests/search/test_search_recall.py's corpus, the bigram field alone
was needed for full recall (42/42 words, 18/18 phrases, against 39/42 and 14/18 for the
word field) and the word field added only those looser matches; version 2 dropped it
(issue 5: the positional bigram phrase was most of the query time and the two fields most
of the indexing time). The recall test now asserts the exact ground truth for every query.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from oversight.search.analysis import bigrams, flatten, fold, normalize
from oversight.search.engine import Needle

#: Longest query considered, in characters; the rest is cut off with a note.
MAX_QUERY_CHARS = 200
#: At most this many words and phrases are used.
MAX_CLAUSES = 24

#: "…", “…” and 「…」 (written as escapes: no Chinese literal outside gettext)
_PHRASE = re.compile(r'"([^"]*)"?|\u201c([^\u201d]*)\u201d?|\u300c([^\u300d]*)\u300d?')
_OR = {"or", "|", "||"}
_AND = {"and", "&", "&&"}
_NOT = {"not"}
_HAS_TEXT = re.compile(r"[^\W_]")


@dataclass
class Clause:
    text: str
    phrase: bool = False
    negated: bool = False


@dataclass
class ParsedQuery:
    #: every group must match (a group: any of its needles, OR); no group of ``must_not``
    must: list[list[Needle]] = field(default_factory=list)
    must_not: list[list[Needle]] = field(default_factory=list)
    #: the strings to highlight
    needles: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def empty(self) -> bool:
        """Nothing searchable was typed (only punctuation, wildcards, operators or
        exclusions)."""
        return not self.must


def split_clauses(q: str) -> list[list[Clause] | Clause]:
    """Words and phrases in order; OR-joined neighbours become one list."""
    items: list[Clause | str] = []
    pos = 0
    for m in _PHRASE.finditer(q):
        items += _bare(q[pos:m.start()])
        text = next(g for g in m.groups() if g is not None)
        negated = bool(items) and items[-1] == "-"
        if negated:
            items.pop()
        items.append(Clause(text, phrase=True, negated=negated))
        pos = m.end()
    items += _bare(q[pos:])

    out: list[list[Clause] | Clause] = []
    pending_or = False
    negate_next = False
    for item in items:
        if item == "-":
            continue
        if isinstance(item, str):
            low = item.lower()
            if low in _OR:
                pending_or = bool(out)
            elif low in _NOT:
                negate_next = True
            continue  # AND is the default
        if negate_next:
            item.negated, negate_next = True, False
        if not _HAS_TEXT.search(item.text):
            continue
        if pending_or and not item.negated and out:
            last = out[-1]
            if isinstance(last, list):
                last.append(item)
            elif not last.negated:
                out[-1] = [last, item]
            else:
                out.append(item)
        else:
            out.append(item)
        pending_or = False
    return out


def _bare(text: str) -> list[Clause | str]:
    out: list[Clause | str] = []
    for chunk in text.split():
        low = chunk.lower()
        if low in _OR or low in _AND or low in _NOT:
            out.append(low)
        elif chunk == "-":
            out.append("-")
        elif chunk.startswith("-") and len(chunk) > 1:
            out.append(Clause(chunk[1:], negated=True))
        else:
            out.append(Clause(chunk))
    return out


def needle(text: str) -> Needle | None:
    """What a word or phrase must be a substring of, and its bigram-field terms."""
    flat = flatten(text)
    grams = bigrams(fold(text))
    if not flat or not grams:
        return None
    if len(grams) == 1 and len(grams[0]) == 1 and not grams[0].isascii():
        # A lone Chinese character: it starts a bigram, or stands alone.
        return Needle(flat, tuple(grams), prefix=True)
    if len(grams) > 1:
        # A lone Chinese character next to letters or digits (警A: 警 then a) is only a
        # bigram-stream token when it stands alone in the document; the text check covers it.
        kept = [g for g in grams if len(g) > 1 or g.isascii()]
        grams = kept or grams
    return Needle(flat, tuple(dict.fromkeys(grams)))


def parse(q: str) -> ParsedQuery:
    """Turn what the user typed into needles; ``empty`` when nothing searchable is left
    (empty, or only punctuation, wildcards and operators)."""
    q = normalize(q or "")
    truncated = len(q) > MAX_QUERY_CHARS
    q = q[:MAX_QUERY_CHARS]
    parsed = ParsedQuery(truncated=truncated)
    for group in split_clauses(q)[:MAX_CLAUSES]:
        clauses = group if isinstance(group, list) else [group]
        found = []
        for clause in clauses:
            n = needle(clause.text)
            if n is None:
                continue
            found.append(n)
            if not clause.negated:
                parsed.needles.append(clause.text)
        if found:
            (parsed.must_not if clauses[0].negated else parsed.must).append(found)
    if not parsed.must:
        return ParsedQuery(truncated=truncated)
    return parsed


# --- snippets -------------------------------------------------------------------------------

SNIPPET_CHARS = 160
_LEAD = 24


@functools.lru_cache(maxsize=256)
def _needle_pattern(needles: tuple[str, ...]) -> re.Pattern | None:
    """A pattern finding any needle, case-insensitively, with punctuation and spaces allowed
    between its characters (phrases match that way)."""
    parts = []
    for needle in sorted({n for n in needles if _HAS_TEXT.search(n)}, key=len, reverse=True):
        chars = [c for c in needle if _HAS_TEXT.match(c)]
        if chars:
            parts.append(r"[\W_]{0,3}".join(re.escape(c) for c in chars))
    if not parts:
        return None
    return re.compile("|".join(parts), re.IGNORECASE)


def snippet(text: str, needles: list[str], size: int = SNIPPET_CHARS) -> Markup:
    """An excerpt of ``text`` around the first match with each match in ``<mark>``.

    Built by hand, so EVERY piece of text goes through ``markupsafe.escape``; only the
    ``<mark>`` tags are markup."""
    text = " ".join((text or "").split())
    # Match on the NFKC form (full-width letters and digits as typed in queries) when it
    # keeps every offset; show the original text.
    folded = normalize(text)
    haystack = folded if len(folded) == len(text) else text
    pattern = _needle_pattern(tuple(needles))
    matches = list(pattern.finditer(haystack)) if pattern else []
    start = 0
    if matches:
        start = max(0, matches[0].start() - _LEAD)
    end = min(len(text), start + size)
    out = [Markup("…")] if start > 0 else []
    cursor = start
    for m in matches:
        s, e = max(m.start(), cursor), min(m.end(), end)
        if s >= end:
            break
        if e <= s:
            continue
        out.append(escape(text[cursor:s]))
        out.append(Markup("<mark>") + escape(text[s:e]) + Markup("</mark>"))
        cursor = e
    out.append(escape(text[cursor:end]))
    if end < len(text):
        out.append(Markup("…"))
    return Markup("").join(out)
