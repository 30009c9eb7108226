"""The optional second factor for staff: TOTP (RFC 6238, 30-second steps, 6 digits), as
every authenticator app speaks it, and the admin's rule of which roles must use it.

A code is accepted for the current step and one step either side (clock drift of a phone),
and never twice: the step of the last accepted code is kept on the account, so a code seen
over a shoulder or replayed from a proxy log is refused.
"""

from __future__ import annotations

import datetime as dt
import hmac
import io

import pyotp
import segno
import sqlalchemy as sa
from markupsafe import Markup

from oversight import security_log
from oversight.extensions import db
from oversight.models import SecuritySetting, User
from oversight.models.base import utcnow
from workflows.roles import Role

ISSUER = "Oversight"
REQUIRED_KEY = "totp_required_roles"
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32(32)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """The enrolment QR code as an inline SVG element (no script, no external image)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False,
                                     svgns=True, title=None, nl=False, omitsize=True)
    # segno draws the data as modules: nothing of the URI appears as text in the SVG
    return Markup(out.getvalue().decode("ascii"))


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The 30-second step the code belongs to (within the allowed drift), or None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # compare every candidate, in constant time, whatever matched first
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def verify(user: User, code: str, now: dt.datetime | None = None) -> bool:
    """Check a code against the user's enrolled secret and spend it (caller commits)."""
    if not user.totp_secret:
        return False
    step = matching_step(user.totp_secret, code, now or utcnow())
    if step is None or step <= user.totp_last_step:
        return False
    user.totp_last_step = step
    return True


def enrol(user: User, secret: str, code: str, now: dt.datetime | None = None) -> bool:
    """Turn the factor on once the user proves their app holds ``secret``."""
    step = matching_step(secret, code, now or utcnow())
    if step is None:
        return False
    user.totp_secret = secret
    user.totp_last_step = step
    user.rotate_sessions()
    security_log.log("totp_enrolled", user=user.id)
    return True


def remove(user: User, *, by: User | None, reason: str) -> None:
    """Turn the factor off: by the user, reset by an admin after a lost phone, or by an
    operator on the command line (``by`` None) when the admin is the one locked out."""
    user.totp_secret = ""
    user.totp_last_step = 0
    user.rotate_sessions()
    security_log.log("totp_removed", user=user.id, by=by.id if by else "cli", reason=reason)


def required_roles() -> frozenset[Role]:
    row = db.session.get(SecuritySetting, REQUIRED_KEY)
    if row is None or not row.value:
        return frozenset()
    return frozenset(Role(v) for v in row.value.split(",") if v in Role._value2member_map_)


def set_required_roles(roles: set[Role], *, by: User) -> None:
    value = ",".join(sorted(r.value for r in roles))
    row = db.session.get(SecuritySetting, REQUIRED_KEY)
    if row is None:
        row = SecuritySetting(key=REQUIRED_KEY)
        db.session.add(row)
    row.value, row.updated_at, row.updated_by_id = value, utcnow(), by.id
    security_log.log("totp_policy", roles=value or "-", by=by.id)


def must_enrol(user: User) -> bool:
    return not user.totp_secret and user.role in required_roles()


def enrolled_count() -> dict[Role, tuple[int, int]]:
    """Per role: (accounts with a second factor, active accounts), for the admin page."""
    rows = db.session.execute(
        sa.select(User.role, sa.func.count(User.id),
                  sa.func.count(User.id).filter(User.totp_secret != ""))
        .where(User.active.is_(True)).group_by(User.role)
    ).all()
    return {role: (enrolled, total) for role, total, enrolled in rows}
