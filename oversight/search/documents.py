"""One search document per case: a builder per case type, registered on its binding.

``install()`` sets ``CaseTypeBinding.search_document`` for the case types it knows; a later
case type joins by giving its binding a builder (here or in its own service module). A
builder takes the case (attached to a session) and returns the fields of
``oversight.search.schema``.

What is indexed: the case's own text (narratives, facts, findings, decisions, reasons),
its evidence log, the notes and reasons recorded on its events, and its notices. What is
NEVER indexed: ``ComplainantIdentity`` and ``RecusalApplicant`` (name, phone, email). No
builder loads them, and the notice templates (templates/notices/**) address the
complainant as "您" and the applicant by role label, never by name or contact, so notice
bodies are indexed in full. Event payloads are redacted of identity keys when written
(``services.events.redact``) and only their ``note`` and ``material`` texts are taken.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import object_session
from whoosh.util.times import datetime_to_long

from oversight.models import CaseEvent, EvidenceEntry, Notice
from oversight.models.base import UTC
from oversight.search.analysis import flatten_folded, fold
from oversight.services import registry
from workflows.policy import PolicyError

#: Event payload keys whose values are free text worth finding.
EVENT_TEXT_KEYS = ("note", "material")
#: Longest stored title, in characters.
TITLE_CHARS = 60


# --- related rows, fetched per case or prefetched per batch by a rebuild -------------------

_prefetched: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "search_prefetched", default=None)


@contextlib.contextmanager
def prefetch(session, case_type: str, ids: list[int]) -> Iterator[None]:
    """Load the events, notices (and evidence) of a batch of cases in three queries."""
    data: dict[str, dict] = {"events": defaultdict(list), "notices": defaultdict(list),
                             "evidence": defaultdict(list)}
    for ev in session.execute(sa.select(CaseEvent).where(
            CaseEvent.case_type == case_type, CaseEvent.case_id.in_(ids))
            .order_by(CaseEvent.case_id, CaseEvent.seq)).scalars():
        data["events"][ev.case_id].append(ev)
    for n in session.execute(sa.select(Notice).where(
            Notice.case_type == case_type, Notice.case_id.in_(ids))
            .order_by(Notice.case_id, Notice.id)).scalars():
        data["notices"][n.case_id].append(n)
    if case_type == "investigation":
        for e in session.execute(sa.select(EvidenceEntry).where(
                EvidenceEntry.investigation_id.in_(ids))
                .order_by(EvidenceEntry.investigation_id, EvidenceEntry.id)).scalars():
            data["evidence"][e.investigation_id].append(e)
    data["case_type"] = case_type  # type: ignore[assignment]
    token = _prefetched.set(data)
    try:
        yield
    finally:
        _prefetched.reset(token)


def _related(case: Any, kind: str) -> list:
    data = _prefetched.get()
    if data is not None and data["case_type"] == case.case_type:
        return data[kind].get(case.id, [])
    session = object_session(case)
    if kind == "events":
        q = sa.select(CaseEvent).where(CaseEvent.case_type == case.case_type,
                                       CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
    elif kind == "notices":
        q = sa.select(Notice).where(Notice.case_type == case.case_type,
                                    Notice.case_id == case.id).order_by(Notice.id)
    else:
        q = sa.select(EvidenceEntry).where(EvidenceEntry.investigation_id == case.id) \
            .order_by(EvidenceEntry.id)
    return list(session.execute(q).scalars())


# --- shared parts --------------------------------------------------------------------------


def organ_path_terms(path: str) -> str:
    """"/1/4/9/" -> "1 4 9": the organ and every ancestor, one keyword each."""
    return " ".join(p for p in path.split("/") if p)


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """Whoosh stores naive datetimes: the index keeps UTC without the zone."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _event_texts(case: Any) -> list[str]:
    texts = []
    for ev in _related(case, "events"):
        if ev.reason:
            texts.append(ev.reason)
        payload = ev.payload or {}
        for key in EVENT_TEXT_KEYS:
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                texts.append(value)
    return texts


def _notice_texts(case: Any) -> list[str]:
    return [f"{n.title} {n.number}\n{n.body}" for n in _related(case, "notices")]


def _officer(case: Any) -> tuple[list[str], list[str]]:
    badges, names = [], []
    officer = getattr(case, "officer", None)
    if officer is not None:
        badges.append(officer.badge_no)
        names.append(officer.name)
    typed = getattr(case, "officer_badge_text", "") or ""
    if typed and typed not in badges:
        badges.append(typed)
    return badges, names


def _category_label(pack: Any, code: str) -> str:
    try:
        return str(pack.category(code).label)
    except PolicyError:
        return ""


def _title(*parts: str) -> str:
    title = " · ".join(p.strip() for p in parts if p and p.strip())
    return title[:TITLE_CHARS]


def _document(case: Any, *, title: str, texts: Iterable[str], categories: list[str]
              ) -> dict:
    badges, names = _officer(case)
    own = [case.number, *badges, *names,
           getattr(case, "officer_description", "") or ""]
    # What happened comes first, so a snippet without a match still starts there.
    body = "\n".join(t.strip() for t in [*texts, *own] if t and t.strip())
    folded = fold(body)
    flat = flatten_folded(folded)
    return {
        "key": f"{case.case_type}:{case.id}",
        "case_id": case.id,
        "number": case.number,
        "organ_path": organ_path_terms(case.organ.path),
        # columns hold bytes
        "case_type": case.case_type.encode("utf-8"),
        "organ_id": str(case.organ_id).encode("utf-8"),
        "state": case.state.value.encode("utf-8"),
        "created": datetime_to_long(naive_utc(case.created_at)),
        "category_set": ",".join(categories).encode("utf-8"),
        "badge": ",".join(badges),
        "officer": ",".join(names),
        "title": title,
        "text": body,
        "flat": flat.encode("utf-8"),
        "length": len(flat),
        "bigram": folded,
    }


# --- one builder per case type ---------------------------------------------------------------


def complaint_document(case: Any) -> dict:
    label = _category_label(case.pack, case.category_code)
    investigation = case.investigation.number if case.investigation is not None else ""
    return _document(
        case,
        title=_title(label, case.incident_place) or _title(case.narrative),
        categories=[case.category_code],
        texts=[label, case.incident_place, case.narrative, case.facts, case.handling,
               investigation, *_event_texts(case), *_notice_texts(case)],
    )


def recusal_document(case: Any) -> dict:
    ground = case.ground
    return _document(
        case,
        title=_title(case.matter_ref, case.matter_summary),
        categories=[],
        texts=[case.matter_ref, case.matter_summary,
               str(ground.label) if ground is not None else "", case.ground_text,
               case.facts, case.earlier_acts_note, *_event_texts(case),
               *_notice_texts(case)],
    )


def investigation_document(case: Any) -> dict:
    codes = [c for c in (case.category_codes or []) if isinstance(c, str)]
    labels = [_category_label(case.pack, c) for c in codes]
    evidence = []
    for entry in _related(case, "evidence"):
        evidence += [entry.title, entry.description, entry.recorder_ref,
                     entry.superseded_reason]
    return _document(
        case,
        title=_title(case.subject),
        categories=codes,
        texts=[case.subject, case.summary, case.facts, case.clarification, *labels,
               *evidence, *_event_texts(case), *_notice_texts(case)],
    )


def suspension_document(case: Any) -> dict:
    investigation = case.investigation.number if case.investigation is not None else ""
    return _document(
        case,
        title=_title(case.officer.name if case.officer else "", case.reason),
        categories=[],
        texts=[case.reason, case.appeal_text, investigation, *_event_texts(case),
               *_notice_texts(case)],
    )


def discipline_document(case: Any) -> dict:
    measure = str(case.measure.label)
    return _document(
        case,
        title=_title(case.officer.name if case.officer else "", measure),
        categories=[],
        texts=[measure, case.facts, case.articles, case.statement_text,
               case.investigation.number, case.supervisor_name, case.referred_to,
               *_event_texts(case), *_notice_texts(case)],
    )


def appeal_document(case: Any) -> dict:
    decision = case.decision
    return _document(
        case,
        title=_title(case.officer.name if case.officer else "", decision.number),
        categories=[],
        texts=[case.grounds, decision.number, str(decision.measure.label),
               *_event_texts(case), *_notice_texts(case)],
    )


def recovery_document(case: Any) -> dict:
    return _document(
        case,
        title=_title(case.officer.name if case.officer else "", case.payee),
        categories=[],
        texts=[case.payee, case.basis_ref, case.linked_number, case.description,
               case.fault_facts, case.statement_text, case.waiver_basis,
               *_event_texts(case), *_notice_texts(case)],
    )


BUILDERS = {
    "complaint": complaint_document,
    "recusal": recusal_document,
    "investigation": investigation_document,
    "suspension": suspension_document,
    "discipline": discipline_document,
    "appeal": appeal_document,
    "recovery": recovery_document,
}


def install() -> None:
    """Give each registered case type its builder (idempotent)."""
    for case_type in registry.case_types():
        binding = registry.binding_for(case_type)
        if binding.search_document is None and case_type in BUILDERS:
            binding.search_document = BUILDERS[case_type]


#: The columns of a case that say what happened, for "similar cases" (no notices, no
#: boilerplate).
SIMILARITY_FIELDS = ("narrative", "incident_place", "officer_badge_text", "officer_description",
                     "subject", "summary", "matter_summary", "facts", "reason")


def similarity_text(case: Any) -> str:
    parts = [getattr(case, name, "") for name in SIMILARITY_FIELDS]
    return "\n".join(p for p in parts if isinstance(p, str) and p.strip())


def indexed_types() -> list[str]:
    install()
    return [t for t in registry.case_types()
            if registry.binding_for(t).search_document is not None]


def build(case: Any) -> dict:
    install()
    return registry.binding_for(case).search_document(case)
