"""What a user types, turned into a Whoosh query built in code, and the highlighted snippet.

There is no Whoosh ``QueryParser`` here at all, so there is no field syntax (``organ:4`` is
the two words "organ" and "4"), no wildcards or prefixes (``*`` and ``?`` are ignored like
any other punctuation), no ranges, boosts or fuzzy terms. What a user may write:

- words, all required (AND): ``辅警 推搡``;
- ``"…"`` (also “…” and 「…」) for an exact phrase: the characters in this order, ignoring
  punctuation and spaces;
- ``OR`` (also ``|``) between two words or phrases: either will do;
- ``-word`` or ``NOT word`` to exclude.

A word matches (a) its rjieba words in the ``text`` field, which also indexes the shorter
dictionary words inside longer ones (交通 in 交通事故), or (b) its characters as a substring
through the ``bigram`` field. A phrase uses (b) only, which is exact.

Measured on the fixed corpus of tests/search/test_search_recall.py (12 complaints, 45
queries; ground truth = the documents containing the query as a substring, punctuation
ignored): the word field alone (search-mode sub-words included, phrases at word positions)
found 39/42 expected documents for bare words and 14/18 for phrases, with 1 false phrase
match ("交通处理" in 交通事故处理: a sub-word shares its parent's position); with the bigram
field added, 42/42 and 18/18 with no false phrase match. So the bigram field is kept, and
phrases use it alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from whoosh import query as wq

from oversight.search.analysis import normalize, query_bigrams, query_words

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
    query: wq.Query | None
    #: the strings to highlight
    needles: list[str] = field(default_factory=list)
    truncated: bool = False


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


def clause_query(clause: Clause) -> wq.Query | None:
    grams = query_bigrams(clause.text)
    if not grams:
        return None
    substring = _bigram_query(grams)
    if clause.phrase:
        return substring
    words = query_words(clause.text)
    if not words:
        return substring
    by_words = wq.Term("text", words[0]) if len(words) == 1 else \
        wq.And([wq.Term("text", w) for w in words])
    return wq.Or([by_words, substring])


def _bigram_query(grams: list[str]) -> wq.Query:
    if len(grams) > 1:
        return wq.Phrase("bigram", grams)
    gram = grams[0]
    if len(gram) == 1 and not gram.isascii():
        # A lone Chinese character: it starts a bigram, or stands alone.
        return wq.Or([wq.Term("bigram", gram), wq.Prefix("bigram", gram)])
    return wq.Term("bigram", gram)


def parse(q: str) -> ParsedQuery:
    """Build the query for what the user typed; ``query`` is None when nothing searchable
    is left (empty, or only punctuation, wildcards and operators)."""
    q = normalize(q or "")
    truncated = len(q) > MAX_QUERY_CHARS
    q = q[:MAX_QUERY_CHARS]
    must: list[wq.Query] = []
    must_not: list[wq.Query] = []
    needles: list[str] = []
    for group in split_clauses(q)[:MAX_CLAUSES]:
        clauses = group if isinstance(group, list) else [group]
        queries = []
        for clause in clauses:
            sub = clause_query(clause)
            if sub is None:
                continue
            queries.append(sub)
            if not clause.negated:
                needles.append(clause.text)
                needles += query_words(clause.text) if not clause.phrase else []
        if not queries:
            continue
        combined = queries[0] if len(queries) == 1 else wq.Or(queries)
        (must_not if clauses[0].negated else must).append(combined)
    if not must:
        return ParsedQuery(None, [], truncated)
    positive = must[0] if len(must) == 1 else wq.And(must)
    query = wq.AndNot(positive, wq.Or(must_not)) if must_not else positive
    return ParsedQuery(query, needles, truncated)


# --- snippets -------------------------------------------------------------------------------

SNIPPET_CHARS = 160
_LEAD = 24


def _needle_pattern(needles: list[str]) -> re.Pattern | None:
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
    pattern = _needle_pattern(needles)
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
