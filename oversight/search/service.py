"""Searching: the scope filter, the query, facets, pages, snippets and similar cases.

Scope is built in code from the access rules, never from the query: staff with a case role
(intake, inspector, leader) see their organ's subtree, everyone else nothing. The subtree
is ONE term (``organ_path:<organ id>``); its document set is computed once per organ and
index generation and cached, and ``engine`` only ever looks for matches among it, so the
results, the total and every facet count only ever see documents in scope. The page of hits is
checked once more with ``access.can`` (defence in depth; counts are not changed by it).

Filters: ``organ_id`` selects that organ's subtree (organ facets count cases of exactly that
organ); dates are local calendar days (``DISPLAY_TIMEZONE``), both ends included. Facet
counts are taken over the matches with every filter applied.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from oversight.extensions import db
from oversight.models import Organ
from oversight.search import documents, store
from oversight.search.analysis import query_words
from oversight.search.engine import Engine
from oversight.search.query import MAX_QUERY_CHARS, ParsedQuery, needle, parse, snippet
from oversight.services import registry
from oversight.services.access import CASE_ROLES, can, in_scope
from workflows.policy import PolicyError, get_packs

log = logging.getLogger(__name__)

MAX_PER_PAGE = 100
FACETS = ("case_type", "state", "organ", "category")


@dataclass(frozen=True)
class Hit:
    case_type: str
    case_id: int
    number: str
    title: str
    state_label: str
    organ_name: str
    created_at: dt.datetime
    #: escaped text with <mark>…</mark> around the matches, safe to render
    snippet: Markup


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    total: int
    page: int
    pages: int
    #: facet name -> [(value, label, count)], in scope, most frequent first
    facets: dict[str, list[tuple[str, str, int]]]
    notes: list[str]
    #: a helpful message instead of results (empty query, only punctuation/operators)
    message: str | None = None


# --- scope -----------------------------------------------------------------------------------


def scope_organ_id(actor) -> int | None:
    """The organ whose subtree ``actor`` may search, or None for nothing (mirrors
    ``access.scope_filter``)."""
    if not getattr(actor, "is_authenticated", False) or not hasattr(actor, "organ"):
        return None
    if getattr(actor, "role", None) not in CASE_ROLES or not getattr(actor, "active", False):
        return None
    return actor.organ_id


def engine_for(searcher) -> Engine:
    """The searcher's engine. Its caches (an organ's scope, the terms' frequencies) hold
    for the searcher's generation of the index, and go with it: the pool closes a searcher
    once the index has a newer one. What outlives a generation is kept per segment
    (``engine.SegmentCache``), so a new generation's scopes cost only its new segments
    and deletions."""
    engine = getattr(searcher, "_oversight_engine", None)
    if engine is None:
        engine = searcher._oversight_engine = Engine(searcher)
    return engine


# --- filters ---------------------------------------------------------------------------------


def _utc_bounds(date_from: dt.date | None, date_to: dt.date | None):
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])

    def utc(day: dt.date) -> dt.datetime:
        return documents.naive_utc(dt.datetime.combine(day, dt.time(), zone))

    start = utc(date_from) if date_from else None
    end = utc(date_to + dt.timedelta(days=1)) - dt.timedelta(microseconds=1) \
        if date_to else None
    return start, end


def _filtered(engine: Engine, allowed: list[int], case_type, state, organ_id, date_from,
              date_to, category) -> list[int]:
    if case_type and allowed:
        allowed = engine.where(allowed, "case_type", lambda v: v == case_type)
    if state and allowed:
        allowed = engine.where(allowed, "state", lambda v: v == state)
    if organ_id is not None and allowed:
        allowed = engine.docs("organ_path", str(int(organ_id)), allowed)
    if category and allowed:
        allowed = engine.where(allowed, "category_set",
                               lambda v: category in (v or "").split(","))
    if (date_from or date_to) and allowed:
        allowed = engine.created_between(allowed, *_utc_bounds(date_from, date_to))
    return allowed


def match(engine: Engine, parsed: ParsedQuery, allowed: list[int]
          ) -> tuple[list[int], list[tuple[float, dict[int, float]]]]:
    """(the documents of ``allowed`` that match, sorted; (idf, {doc: term frequency}) per
    positive needle, for ranking). The most selective group goes first, so the others only
    look at its matches."""
    def cost(group):
        return max(engine.idf_df(n) for n in group)

    cands = allowed
    tfs: list[tuple[float, dict[int, float]]] = []
    for group in sorted(parsed.must, key=cost):
        found: set[int] = set()
        for n in group:
            tf = engine.match(n, cands)
            tfs.append((engine.idf(n), tf))
            found.update(tf)
        cands = sorted(found)
        if not cands:
            return [], []
    for group in parsed.must_not:
        excluded: set[int] = set()
        for n in group:
            excluded.update(engine.match(n, cands))
        if excluded:
            cands = [d for d in cands if d not in excluded]
    return cands, tfs


# --- search ----------------------------------------------------------------------------------


def _pool():
    return store.pool_for(store.index_root())


def warm() -> bool:
    """Fill the current index's column caches (``Engine.warm``); False when there is no
    index yet."""
    with _pool().searcher() as (_ident, searcher):
        if searcher is None:
            return False
        engine_for(searcher).warm()
        return True


def search(actor, q: str, *, case_type: str = "", state: str = "", organ_id: int | None = None,
           date_from: dt.date | None = None, date_to: dt.date | None = None,
           category: str = "", sort: str = "relevance", page: int = 1, per_page: int = 20
           ) -> SearchResult:
    """Search what ``actor`` may see. Never raises on what a user can type."""
    notes: list[str] = []
    parsed = parse(q or "")
    if parsed.truncated:
        notes.append(_("查询过长，已截取前 %(n)s 个字", n=MAX_QUERY_CHARS))
    per_page = max(1, min(int(per_page or 20), MAX_PER_PAGE))
    page = max(1, int(page or 1))
    if parsed.empty:
        if not (q or "").strip():
            message = _("请输入要查找的内容：事件经过中的词句、辅警编号、案件编号或地点。")
        else:
            message = _("查询中没有可查找的文字（标点、通配符和运算符会被忽略），"
                        "请输入词语、编号或地点。")
        return SearchResult([], 0, 1, 0, {}, notes, message)
    nothing = SearchResult([], 0, 1, 0, {}, notes, None)
    organ = scope_organ_id(actor)
    if organ is None:
        return nothing
    with _pool().searcher() as (_ident, searcher):
        if searcher is None:
            return nothing
        engine = engine_for(searcher)
        allowed = _filtered(engine, engine.scope(organ), case_type, state,
                            organ_id, date_from, date_to, category)
        if not allowed:
            return nothing
        matched, tfs = match(engine, parsed, allowed)
        if not matched:
            return nothing
        total = len(matched)
        facets = _facets(engine, matched, actor)
        pages = math.ceil(total / per_page)
        page = min(page, pages)
        offset = (page - 1) * per_page
        if sort == "date":
            docnums = _by_date(engine, matched)[offset:offset + per_page]
        else:
            docnums = engine.rank(matched, tfs, offset + per_page)[offset:]
        stored = engine.stored_fields(docnums)
    hits = _hits(actor, stored, parsed.needles)
    return SearchResult(hits, total, page, pages, facets, notes, None)


def _by_date(engine: Engine, docnums: list[int]) -> list[int]:
    """Newest first; documents created at the same moment in the order of their key."""
    created = engine.column("created", docnums)
    order = sorted(range(len(docnums)), key=lambda i: created[i], reverse=True)
    out = [docnums[i] for i in order]
    i = 0
    while i < len(order):  # break ties by key (rare: read the keys of ties only)
        j = i + 1
        while j < len(order) and created[order[j]] == created[order[i]]:
            j += 1
        if j - i > 1:
            tied = sorted(out[i:j])
            keys = dict(zip(tied, engine.stored_keys(tied), strict=True))
            out[i:j] = sorted(out[i:j], key=keys.__getitem__)
        i = j
    return out


def _facets(engine: Engine, docnums: list[int], actor) -> dict[str, list[tuple[str, str, int]]]:
    counts: dict[str, Counter] = {}
    for name, column in (("case_type", "case_type"), ("state", "state"),
                         ("organ", "organ_id"), ("category", "category_set")):
        values = engine.counts(column, docnums)
        if name == "category":
            counter: Counter = Counter()
            for value, n in values.items():
                for code in (value or "").split(","):
                    if code:
                        counter[code] += n
        else:
            counter = values
            counter.pop("", None)
        counts[name] = counter
    types = set(counts["case_type"])
    organ_names = {}
    if counts["organ"]:
        ids = [int(v) for v in counts["organ"]]
        organ_names = {str(i): n for i, n in db.session.execute(
            sa.select(Organ.id, Organ.name).where(Organ.id.in_(ids))).all()}
    labels = {
        "case_type": lambda v: registry.spec_for(v).label if v in registry.case_types() else v,
        "state": lambda v: _state_label(v, types),
        "organ": lambda v: organ_names.get(v, v),
        "category": lambda v: _category_label(v, actor),
    }
    return {name: sorted(((v, str(labels[name](v)), n) for v, n in counts[name].items()),
                         key=lambda item: (-item[2], item[0]))
            for name in FACETS}


def _state_label(value: str, types: set[str]) -> str:
    for case_type in sorted(types):
        try:
            return registry.spec_for(case_type).states(value).label
        except (KeyError, ValueError):
            continue
    return value


def _category_label(code: str, actor) -> str:
    packs = [actor.organ.pack, *get_packs().values()]
    for pack in packs:
        try:
            return str(pack.category(code).label)
        except PolicyError:
            continue
    return code


def _load_cases(keys: list[tuple[str, int]]) -> dict[tuple[str, int], object]:
    by_type: dict[str, list[int]] = {}
    for case_type, case_id in keys:
        by_type.setdefault(case_type, []).append(case_id)
    cases = {}
    for case_type, ids in by_type.items():
        if case_type not in registry.case_types():
            continue
        model = registry.binding_for(case_type).model
        for case in db.session.execute(sa.select(model).where(model.id.in_(ids))
                                       .options(selectinload(model.organ))).scalars():
            cases[(case_type, case.id)] = case
    return cases


def _hits(actor, stored: list[dict], needles: list[str]) -> list[Hit]:
    cases = _load_cases([(f["key"].partition(":")[0], f["case_id"]) for f in stored])
    hits = []
    for fields in stored:
        case = cases.get((fields["key"].partition(":")[0], fields["case_id"]))
        if case is None or not can(actor, "view", case):
            # The index is behind the database (the outbox will catch up), or the scope
            # filter let through what access.can refuses: never show it.
            if case is not None:
                log.warning("search scope filter let through %s for user %s",
                            fields["key"], getattr(actor, "id", None))
            continue
        hits.append(Hit(
            case_type=case.case_type, case_id=case.id, number=case.number,
            title=fields.get("title", ""), state_label=str(case.state.label),
            organ_name=case.organ.name, created_at=case.created_at,
            snippet=snippet(fields.get("text", ""), needles),
        ))
    return hits


# --- similar cases ---------------------------------------------------------------------------

SIMILAR_TERMS = 12
#: A similar case shares at least this share of the key words (and at least two).
SIMILAR_MIN_SHARE = 0.3


def similarity_terms(engine: Engine, text: str, limit: int = SIMILAR_TERMS) -> list[str]:
    """The key words of ``text``: rjieba words of two characters or more, with an
    ideograph or a letter (dates, times, amounts and other bare numbers are left out:
    they made every case look alike), by term frequency in ``text`` times idf."""
    counts = Counter(w for w in query_words(text)
                     if len(w) >= 2 and not w.isdigit()
                     and any(c.isalpha() for c in w)
                     and (not w.isascii() or len(w) >= 3))
    scored = []
    for word, tf in counts.items():
        n = needle(word)
        if n is None or n.prefix:
            continue
        scored.append((tf * engine.idf(n), word))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [w for _s, w in scored[:limit]]


def similar(actor, case, *, limit: int = 5, window_days: int = 90) -> list[Hit]:
    """Possible duplicates of ``case`` (more-like-this): cases of the same type and organ,
    created within ``window_days`` either side, that ``actor`` may open; never the case.
    They must share ``SIMILAR_MIN_SHARE`` of the case's key words; ranked by BM25 over
    them."""
    organ = scope_organ_id(actor)
    if organ is None or not can(actor, "view", case):
        return []
    text = documents.similarity_text(case)
    if not text.strip():
        return []
    created = documents.naive_utc(case.created_at)
    window = dt.timedelta(days=window_days)
    with _pool().searcher() as (_ident, searcher):
        if searcher is None:
            return []
        engine = engine_for(searcher)
        terms = similarity_terms(engine, text)
        if not terms:
            return []
        # The candidates are the case organ's own cases: start from that organ's subtree
        # (a station's documents, not all of a city bureau's) when the actor's scope
        # holds it, which it does whenever the actor sees the case through the tree.
        if not in_scope(actor, case.organ):
            return []
        organ_id, case_type = str(case.organ_id), case.case_type
        allowed = engine.scope(case.organ_id)
        allowed = engine.where(allowed, "organ_id", lambda v: v == organ_id)
        allowed = engine.where(allowed, "case_type", lambda v: v == case_type)
        allowed = engine.created_between(allowed, created - window, created + window)
        itself = set(engine.docs("key", f"{case.case_type}:{case.id}", allowed))
        allowed = [d for d in allowed if d not in itself]
        if not allowed:
            return []
        tfs = []
        shared: Counter = Counter()
        for term in terms:
            n = needle(term)
            tf = engine.match(n, allowed)
            tfs.append((engine.idf(n), tf))
            shared.update(tf.keys())
        need = min(len(terms), max(2, math.ceil(len(terms) * SIMILAR_MIN_SHARE)))
        candidates = sorted(d for d, k in shared.items() if k >= need)
        docnums = engine.rank(candidates, tfs, limit)
        stored = engine.stored_fields(docnums)
    return _hits(actor, stored, terms)[:limit]
