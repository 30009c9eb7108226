"""Operations every case type shares: loading a case for an actor, the public party's
identity, and access by case number and access code (complaints and recusal applications
are tracked the same way)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from oversight import security_log
from oversight.extensions import db
from oversight.services import registry, throttle
from oversight.services.access import can
from oversight.services.errors import NotFound, Throttled

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 16  # 31**16 ≈ 2**79


def new_access_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def hash_code(code: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}:{normalise_code(code)}".encode()).hexdigest()
    return f"sha256${salt}${digest}"


def code_matches(stored: str, code: str) -> bool:
    _alg, salt, _digest = stored.split("$", 2)
    return hmac.compare_digest(stored, hash_code(code, salt))


_DUMMY_HASH = hash_code("DUMMY-CODE-NEVER-VALID")


def submission_key_hash(key: str) -> str | None:
    """sha256 of a form's one-time submission key (a resubmitted form files nothing twice)."""
    return hashlib.sha256(key.encode()).hexdigest() if key else None


def get_for(actor: Any, case_type: str, case_id: int) -> Any:
    """Load a case this actor may view; otherwise it does not exist for them."""
    try:
        binding = registry.binding_for(case_type)
    except KeyError:
        raise NotFound() from None
    case = db.session.get(binding.model, case_id)
    if case is None or not can(actor, "view", case):
        if case is not None:
            security_log.log("denied_view", case=f"{case_type}:{case_id}",
                             user=getattr(actor, "id", None),
                             role=getattr(getattr(actor, "role", None), "value", None))
        raise NotFound()
    return case


def identity_for(actor: Any, case: Any) -> Any:
    """The public party's identity, only for those allowed to see it."""
    binding = registry.binding_for(case)
    if binding.identity_of is None or not can(actor, "view_identity", case):
        return None
    return binding.identity_of(case)


def public_access(number: str, code: str, client_key: str, now: dt.datetime) -> Any:
    """Verify number + code for any tracked case type. A wrong code and an unknown number
    fail identically (same hashing work), and every failure counts against both the client
    and the number."""
    limit, window = throttle.track_limits()
    number = (number or "").strip().upper()
    keys = (f"track:client:{client_key}", f"track:case:{number}")
    if any(throttle.blocked(k, now, limit, window) for k in keys):
        raise Throttled()
    binding = registry.binding_for_number(number)
    case = None
    if binding is not None and hasattr(binding.model, "access_code_hash"):
        case = db.session.execute(
            sa.select(binding.model).where(binding.model.number == number)
        ).scalar_one_or_none()
    stored = case.access_code_hash if case is not None else None
    ok = code_matches(stored or _DUMMY_HASH, code)
    if case is None or stored is None or not ok:
        for k in keys:
            throttle.record_failure(k, now, window)
        raise NotFound(_("案件编号或查询码不正确"))
    return case
