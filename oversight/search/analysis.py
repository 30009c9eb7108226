"""Chinese analysis for the search index.

STABLE IMPORT PATH: Whoosh pickles the analyzers into the index's schema, so the classes
below are looked up as ``oversight.search.analysis.WordTokenizer`` and
``oversight.search.analysis.BigramTokenizer`` whenever an index is opened. Do not move or
rename them; if their behaviour changes, bump ``oversight.search.schema.SCHEMA_VERSION`` so
the indexer rebuilds.

Two token streams are indexed from the same text:

``WordTokenizer`` (field ``text``)
    rjieba's precise segmentation, plus, at index time, the dictionary words inside each
    longer word (what jieba's ``cut_for_search`` adds: 交通 and 事故 inside 交通事故). Every
    token's *position is the index of its word* (a sub-word shares its parent's position),
    never a character offset: jieba's own Whoosh analyzer records character offsets as
    positions, which breaks phrase queries. Queries are cut in precise mode only.

``BigramTokenizer`` (field ``bigram``)
    Overlapping character bigrams over runs of Chinese characters, and whole lowercased
    runs of Latin letters and digits, at consecutive positions; punctuation and spaces are
    skipped. A phrase query over this field is an exact substring match that ignores
    punctuation and spacing, whatever the segmenter did with the surrounding text.

The segmenter is one private ``rjieba.Jieba`` per process, loaded on first use with the
domain dictionary (``userdict.txt``) and every policy pack's category labels.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from pathlib import Path

from whoosh.analysis import Token, Tokenizer

USERDICT = Path(__file__).with_name("userdict.txt")

#: Chinese ideographs (the basic block and extension A, plus compatibility ideographs).
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_IS_CJK = re.compile(f"[{_CJK}]")
#: A run of Chinese characters, or of letters and digits.
_RUN = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+")
#: A token worth indexing holds at least one letter, digit or ideograph.
_WORDLIKE = re.compile(r"[^\W_]")
#: Where a pack category label is split into dictionary words.
_LABEL_SPLIT = re.compile(r"[\W_]+")

_lock = threading.Lock()
_jieba = None


def dictionary_words() -> list[str]:
    """The domain words: the user dictionary, then every pack's category labels."""
    words: list[str] = []
    for line in USERDICT.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.append(line.split()[0])
    from workflows.policy import get_packs

    for pack in get_packs().values():
        for category in pack.categories:
            for part in _LABEL_SPLIT.split(str(category.label)):
                if len(part) >= 2:
                    words.append(part)
    return list(dict.fromkeys(words))


def segmenter():
    """The process's rjieba instance, with the domain dictionary loaded."""
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                import rjieba

                jieba = rjieba.Jieba()
                for word in dictionary_words():
                    # The suggested frequency is what it takes for the word to be cut out
                    # whole; never less than a common word's.
                    jieba.add_word(word, max(jieba.suggest_freq(word), 1000), None)
                _jieba = jieba
    return _jieba


def normalize(text: str) -> str:
    """NFKC folds full-width letters and digits (ＢＪ１０００１) into ASCII."""
    return unicodedata.normalize("NFKC", text)


def fold(text: str) -> str:
    """What both tokenizers index: NFKC, then lower case (done once per text instead of a
    LowercaseFilter per token, which cost a third of the analysis time)."""
    return unicodedata.normalize("NFKC", text).lower()


@functools.lru_cache(maxsize=200_000)
def _word_info(word: str) -> tuple[bool, tuple[tuple[str, int], ...]]:
    """(holds a letter, digit or ideograph?, the dictionary words of 2 and 3 characters
    inside it with their offsets), as jieba's search mode finds them. Cached: words repeat,
    and each ``has_word`` is a call into Rust."""
    if not _WORDLIKE.search(word):
        return False, ()
    if len(word) <= 2 or not _IS_CJK.search(word):
        return True, ()
    jieba = segmenter()
    inner = []
    for size in (2, 3):
        if len(word) <= size:
            break
        for i in range(len(word) - size + 1):
            sub = word[i:i + size]
            if jieba.has_word(sub):
                inner.append((sub, i))
    return True, tuple(inner)


class WordTokenizer(Tokenizer):
    """rjieba words at word positions; see the module docstring."""

    def __eq__(self, other):
        return self.__class__ is other.__class__

    def __hash__(self):
        return hash(self.__class__.__name__)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        value = fold(value)
        if not tokenize:
            t.original = t.text = value
            t.boost, t.stopped = 1.0, False
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        jieba = segmenter()
        subwords = mode != "query"
        t.boost, t.stopped = 1.0, False
        pos = start_pos
        for word, start, _end in jieba.tokenize(value, mode="default", hmm=True):
            wordlike, inner = _word_info(word)
            if not wordlike:
                continue  # punctuation and spaces hold no position
            t.text = word
            if keeporiginal:
                t.original = word
            if positions:
                t.pos = pos
            if chars:
                t.startchar, t.endchar = start_char + start, start_char + start + len(word)
            yield t
            if subwords:
                for sub, offset in inner:  # at the parent word's position
                    t.text = sub
                    if keeporiginal:
                        t.original = sub
                    if chars:
                        t.startchar = start_char + start + offset
                        t.endchar = t.startchar + len(sub)
                    yield t
            pos += 1


class BigramTokenizer(Tokenizer):
    """Chinese character bigrams and Latin/digit runs; see the module docstring."""

    def __eq__(self, other):
        return self.__class__ is other.__class__

    def __hash__(self):
        return hash(self.__class__.__name__)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        t.boost, t.stopped = 1.0, False
        if chars:  # offsets are not tracked: snippets are highlighted without them
            t.startchar = t.endchar = start_char
        pos = start_pos
        for text in bigrams(fold(value)):
            t.text = text
            if keeporiginal:
                t.original = text
            if positions:
                t.pos = pos
            pos += 1
            yield t


def bigrams(value: str) -> list[str]:
    """The bigram stream: a bigram for each pair of Chinese characters that follow each other
    once punctuation and spaces are skipped (a lone Chinese character as itself), and each
    run of letters and digits whole. Runs are found by one C-level regex; no per-character
    Python work."""
    out: list[str] = []
    pending = ""  # Chinese characters not yet turned into bigrams
    for run in _RUN.findall(value):
        if _IS_CJK.match(run):
            pending += run
            continue
        if pending:
            out += _pairs(pending)
            pending = ""
        out.append(run)
    if pending:
        out += _pairs(pending)
    return out


def _pairs(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i:i + 2] for i in range(len(run) - 1)]


def word_analyzer():
    return WordTokenizer()


def bigram_analyzer():
    return BigramTokenizer()


def query_words(text: str) -> list[str]:
    """The words of a query as the ``text`` field indexes them (precise mode, lowercased)."""
    return [t.text for t in word_analyzer()(text, mode="query")]


def query_bigrams(text: str) -> list[str]:
    return [t.text for t in bigram_analyzer()(text, mode="query")]
