"""Chinese analysis for the search index.

STABLE IMPORT PATH: Whoosh pickles the analyzers into the index's schema, so the classes
below are looked up as ``oversight.search.analysis.WordTokenizer`` and
``oversight.search.analysis.BigramTokenizer`` whenever an index is opened. Do not move or
rename them; if their behaviour changes, bump ``oversight.search.schema.SCHEMA_VERSION`` so
the indexer rebuilds.

What is indexed (schema version 2):

``BigramTokenizer`` (field ``bigram``)
    Overlapping character bigrams over runs of Chinese characters, and whole lowercased
    runs of Latin letters and digits; punctuation and spaces are skipped. Indexed with
    frequencies, without positions: ``engine`` intersects the bigrams of what was typed and
    checks the candidates against ``flatten(text)``, so a match is an exact substring match
    that ignores punctuation and spacing, whatever the segmenter did with the text.

``flatten`` (column ``flat``)
    The same text as one string: NFKC, lower case, every character that is not a letter,
    digit or ideograph removed. A bigram stream is exactly the bigrams and runs of it.

``WordTokenizer``
    rjieba's precise segmentation (plus, at index time, the dictionary words inside each
    longer word, as jieba's ``cut_for_search``). No longer indexed (version 1 indexed it
    as the field ``text``); ``query_words`` uses it to pick the key words of a case for
    "similar cases". It stays here under its name because version-1 indexes pickled it.

The segmenter is rjieba's default instance (one per process), given on first use the
domain dictionary (``userdict.txt``) and every policy pack's category labels.
"""

from __future__ import annotations

import functools
import operator
import re
import threading
import unicodedata
from pathlib import Path

from whoosh.analysis import Token, Tokenizer

USERDICT = Path(__file__).with_name("userdict.txt")

#: Chinese ideographs (the basic block and extension A, plus compatibility ideographs).
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_IS_CJK = re.compile(f"[{_CJK}]")
#: A run of Chinese characters (first group), or of letters and digits (second group).
_RUNS = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")
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
    """rjieba's segmenter with the domain dictionary added (once per process).

    It is the package's own default instance, behind rjieba's module functions: importing
    rjieba already loads it, and a second ``rjieba.Jieba()`` held a second copy of the
    dictionary (about 25 MB in every worker that showed similar cases). Nothing else in
    the process segments with rjieba, so the added words change no one else's cuts."""
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                import rjieba

                for word in dictionary_words():
                    # The suggested frequency is what it takes for the word to be cut out
                    # whole; never less than a common word's.
                    rjieba.add_word(word, max(rjieba.suggest_freq(word), 1000), None)
                _jieba = rjieba
    return _jieba


#: Full-width forms of ASCII (and the ideographic space): what NFKC changes in most
#: Chinese text, its punctuation ，：（）. Mapped one character to one, by a regex.
_FULL_WIDTH = re.compile(r"[\uff01-\uff5e\u3000]+")
_HALF = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}


def _half_width(match: re.Match) -> str:
    return "".join(map(_HALF.__getitem__, match.group()))


def normalize(text: str) -> str:
    """NFKC folds full-width letters and digits (ＢＪ１０００１) into ASCII. Most text is
    NFKC once its full-width punctuation is mapped, and checking that is far cheaper than
    normalizing (a third of the time of building a document went to NFKC)."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    text = _FULL_WIDTH.sub(_half_width, text)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


#: What ``flatten`` removes: everything but letters, digits and ideographs.
_NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """What both tokenizers index: NFKC, then lower case (done once per text instead of a
    LowercaseFilter per token, which cost a third of the analysis time)."""
    return normalize(text).lower()


def flatten(text: str) -> str:
    """``fold`` and then drop punctuation and spaces: the string whose substrings are what a
    word or phrase matches (the bigram field indexes exactly its bigrams and runs)."""
    return _NOT_WORD.sub("", fold(text))


def flatten_folded(folded: str) -> str:
    """``flatten`` of a text already ``fold``-ed."""
    return _NOT_WORD.sub("", folded)


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


class _StatelessTokenizer(Tokenizer):
    """A tokenizer without settings: any two of a class are equal (Whoosh compares a
    stored schema's analyzers with the code's)."""

    def __eq__(self, other):
        return self.__class__ is other.__class__

    def __hash__(self):
        return hash(self.__class__.__name__)


class WordTokenizer(_StatelessTokenizer):
    """rjieba words at word positions; see the module docstring."""

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


class BigramTokenizer(_StatelessTokenizer):
    """Chinese character bigrams and Latin/digit runs; see the module docstring."""

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
    run of letters and digits whole. Runs are found by one C-level regex and pairs made by
    ``map``; no per-character Python work."""
    out: list[str] = []
    pending: list[str] = []  # runs of Chinese characters not yet turned into bigrams
    for cjk, other in _RUNS.findall(value):
        if cjk:
            pending.append(cjk)
            continue
        if pending:
            out += _pairs(pending[0] if len(pending) == 1 else "".join(pending))
            pending = []
        out.append(other)
    if pending:
        out += _pairs(pending[0] if len(pending) == 1 else "".join(pending))
    return out


def _pairs(run: str):
    if len(run) == 1:
        return (run,)
    return map(operator.add, run, run[1:])


def word_analyzer():
    return WordTokenizer()


def bigram_analyzer():
    return BigramTokenizer()


def query_words(text: str) -> list[str]:
    """The words of a query as the ``text`` field indexes them (precise mode, lowercased)."""
    return [t.text for t in word_analyzer()(text, mode="query")]


def query_bigrams(text: str) -> list[str]:
    return [t.text for t in bigram_analyzer()(text, mode="query")]
