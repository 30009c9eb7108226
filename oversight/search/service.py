"""Searching: the scope filter, the query, facets, pages, snippets and similar cases.

Scope is built in code from the access rules, never from the query: staff with a case role
(intake, inspector, leader) see their organ's subtree, everyone else nothing. The subtree
is ONE term (``organ_path:<organ id>``); its document set is computed once per organ and
index generation and cached, then intersected with the query's matches, so the results,
the total and every facet count only ever see documents in scope. The page of hits is
checked once more with ``access.can`` (defence in depth; counts are not changed by it).

Filters: ``organ_id`` selects that organ's subtree (organ facets count cases of exactly that
organ); dates are local calendar days (``DISPLAY_TIMEZONE``), both ends included. Facet
counts are taken over the matches with every filter applied.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import selectinload
from whoosh import query as wq

from oversight.extensions import db
from oversight.models import Organ
from oversight.search import documents, store
from oversight.search.query import MAX_QUERY_CHARS, parse, snippet
from oversight.services import registry
from oversight.services.access import CASE_ROLES, can
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


_scope_cache: OrderedDict[tuple, frozenset[int]] = OrderedDict()
_scope_lock = threading.Lock()
SCOPE_CACHE_SIZE = 256


def scope_docs(ident: tuple, searcher, organ_id: int) -> frozenset[int]:
    """The document numbers in ``organ_id``'s subtree, cached per organ and generation."""
    key = (ident, organ_id)
    with _scope_lock:
        docs = _scope_cache.get(key)
        if docs is not None:
            _scope_cache.move_to_end(key)
            return docs
    docs = frozenset(searcher.docs_for_query(wq.Term("organ_path", str(organ_id))))
    with _scope_lock:
        _scope_cache[key] = docs
        while len(_scope_cache) > SCOPE_CACHE_SIZE:
            _scope_cache.popitem(last=False)
    return docs


# --- filters ---------------------------------------------------------------------------------


def _utc_bounds(date_from: dt.date | None, date_to: dt.date | None):
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])

    def utc(day: dt.date) -> dt.datetime:
        return documents.naive_utc(dt.datetime.combine(day, dt.time(), zone))

    start = utc(date_from) if date_from else None
    end = utc(date_to + dt.timedelta(days=1)) - dt.timedelta(microseconds=1) \
        if date_to else None
    return start, end


def _filter_query(case_type, state, organ_id, date_from, date_to, category):
    parts: list[wq.Query] = []
    if case_type:
        parts.append(wq.Term("case_type", case_type))
    if state:
        parts.append(wq.Term("state", state))
    if organ_id is not None:
        parts.append(wq.Term("organ_path", str(int(organ_id))))
    if category:
        parts.append(wq.Term("categories", category))
    if date_from or date_to:
        start, end = _utc_bounds(date_from, date_to)
        parts.append(wq.DateRange("created", start, end))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)


# --- search ----------------------------------------------------------------------------------


def _pool():
    return store.pool_for(store.index_root())


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
    if parsed.query is None:
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
    with _pool().searcher() as (ident, searcher):
        if searcher is None:
            return nothing
        allowed = scope_docs(ident, searcher, organ)
        filt = _filter_query(case_type, state, organ_id, date_from, date_to, category)
        if filt is not None and allowed:
            allowed = allowed & frozenset(searcher.docs_for_query(filt))
        # Never hand Whoosh an empty filter: it reads an empty set as "no filter".
        if not allowed:
            return nothing
        matched = [d for d in searcher.docs_for_query(parsed.query) if d in allowed]
        if not matched:
            return nothing
        total = len(matched)
        facets = _facets(searcher, matched, actor)
        pages = math.ceil(total / per_page)
        page = min(page, pages)
        offset = (page - 1) * per_page
        if sort == "date":
            created = searcher.reader().column_reader("created")
            keys = searcher.reader().column_reader("key")
            # newest first; ties in the order of the key (two stable sorts)
            ordered = sorted(sorted(matched, key=lambda d: keys[d]),
                             key=lambda d: created[d], reverse=True)
            docnums = ordered[offset:offset + per_page]
        else:
            results = searcher.search(parsed.query, filter=set(matched),
                                      limit=offset + per_page)
            docnums = [hit.docnum for hit in results][offset:]
        stored = [searcher.stored_fields(d) for d in docnums]
    hits = _hits(actor, stored, parsed.needles)
    return SearchResult(hits, total, page, pages, facets, notes, None)


def _facets(searcher, docnums: list[int], actor) -> dict[str, list[tuple[str, str, int]]]:
    reader = searcher.reader()
    counts: dict[str, Counter] = {}
    for name, column in (("case_type", "case_type"), ("state", "state"),
                         ("organ", "organ_id"), ("category", "category_set")):
        values = reader.column_reader(column)
        counter: Counter = Counter()
        for d in docnums:
            value = values[d]
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            if name == "category":
                counter.update(v for v in value.split(",") if v)
            elif value:
                counter[value] += 1
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
    cases = _load_cases([(f["case_type"], f["case_id"]) for f in stored])
    hits = []
    for fields in stored:
        case = cases.get((fields["case_type"], fields["case_id"]))
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


def similar(actor, case, *, limit: int = 5, window_days: int = 90) -> list[Hit]:
    """Possible duplicates of ``case`` (more-like-this): cases of the same type and organ,
    created within ``window_days`` either side, that ``actor`` may open; never the case."""
    organ = scope_organ_id(actor)
    if organ is None or not can(actor, "view", case):
        return []
    text = documents.similarity_text(case)
    if not text.strip():
        return []
    created = documents.naive_utc(case.created_at)
    window = dt.timedelta(days=window_days)
    with _pool().searcher() as (ident, searcher):
        if searcher is None:
            return []
        terms = [(t, w) for t, w in searcher.key_terms_from_text(
            "text", text, numterms=SIMILAR_TERMS, normalize=True)
            if len(t) >= 2 or t.isascii()]
        if not terms:
            return []
        like = wq.Or([wq.Term("text", t, boost=max(w, 0.01)) for t, w in terms])
        allowed = scope_docs(ident, searcher, organ) & frozenset(searcher.docs_for_query(
            wq.And([wq.Term("case_type", case.case_type),
                    wq.Term("organ_id", str(case.organ_id)),
                    wq.DateRange("created", created - window, created + window)])))
        allowed -= frozenset(searcher.docs_for_query(
            wq.Term("key", f"{case.case_type}:{case.id}")))
        if not allowed:
            return []
        results = searcher.search(like, filter=set(allowed), limit=limit)
        stored = [hit.fields() for hit in results]
    return _hits(actor, stored, [t for t, _w in terms])[:limit]
