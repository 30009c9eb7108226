"""The append-only, hash-chained event log.

Each case has its own chain: an event's hash covers its fields and the previous event's
hash, so editing or deleting any row breaks every later hash of that case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from oversight.extensions import db
from oversight.models import CaseEvent
from workflows.roles import Role

GENESIS = "0" * 64

#: Payload keys that may carry personal data; they never reach the log. The marker that
#: replaces them is stored in the hash-chained record, so it is data, not a translated text.
REDACTED_KEYS = frozenset({"name", "phone", "email", "complainant", "contact", "identity"})


def redact(payload: dict) -> dict:
    return {k: ("[已隐去]" if k in REDACTED_KEYS else v) for k, v in payload.items()}


def _canonical(ev: CaseEvent) -> bytes:
    body = {
        "case_type": ev.case_type,
        "case_id": ev.case_id,
        "seq": ev.seq,
        "at": ev.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": ev.actor_id,
        "actor_role": ev.actor_role.value,
        "trigger": ev.trigger,
        "from": ev.from_state,
        "to": ev.to_state,
        "reason": ev.reason,
        "article": ev.article,
        "payload": ev.payload,
        "public": ev.public,
        "prev": ev.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def compute_hash(ev: CaseEvent) -> str:
    return hashlib.sha256(_canonical(ev)).hexdigest()


def append(
    *,
    case_type: str,
    case_id: int,
    actor_id: int | None,
    actor_role: Role,
    trigger: str,
    from_state: str,
    to_state: str,
    at: dt.datetime,
    reason: str = "",
    article: str = "",
    payload: dict | None = None,
    public: bool = False,
    first: bool = False,
) -> CaseEvent:
    """Add the case's next event to the session. ``first``: the case was created in this
    transaction, so its chain starts here (no query for the last event; the unique
    (case_type, case_id, seq) index refuses a second event 1)."""
    last = None if first else db.session.execute(
        sa.select(CaseEvent.seq, CaseEvent.hash)
        .where(CaseEvent.case_type == case_type, CaseEvent.case_id == case_id)
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    ).first()
    ev = CaseEvent(
        case_type=case_type,
        case_id=case_id,
        seq=(last.seq + 1) if last else 1,
        at=at.replace(microsecond=at.microsecond),
        actor_id=actor_id,
        actor_role=actor_role,
        trigger=trigger,
        from_state=from_state,
        to_state=to_state,
        reason=reason or "",
        article=article or "",
        payload=redact(payload or {}),
        public=public,
        prev_hash=last.hash if last else GENESIS,
    )
    ev.hash = compute_hash(ev)
    db.session.add(ev)
    return ev


@dataclass(frozen=True)
class ChainBreak:
    case_type: str
    case_id: int
    seq: int
    problem: str


def verify_chains() -> Iterator[ChainBreak]:
    """Walk every chain in order; yield each place where it does not hold."""
    rows = db.session.execute(
        sa.select(CaseEvent).order_by(CaseEvent.case_type, CaseEvent.case_id, CaseEvent.seq)
        .execution_options(yield_per=500)
    ).scalars()
    key, prev, expected_seq = None, GENESIS, 1
    for ev in rows:
        if (ev.case_type, ev.case_id) != key:
            key, prev, expected_seq = (ev.case_type, ev.case_id), GENESIS, 1
        if ev.seq != expected_seq:
            yield ChainBreak(ev.case_type, ev.case_id, ev.seq,
                             _("序号不连续，应为 %(seq)s", seq=expected_seq))
        if ev.prev_hash != prev:
            yield ChainBreak(ev.case_type, ev.case_id, ev.seq,
                             _("前序哈希不符（记录被删除或篡改）"))
        if compute_hash(ev) != ev.hash:
            yield ChainBreak(ev.case_type, ev.case_id, ev.seq, _("内容哈希不符（记录被篡改）"))
        prev, expected_seq = ev.hash, ev.seq + 1
