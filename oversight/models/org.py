"""Organs (公安机关 and their units), auxiliary officers and staff accounts."""

from __future__ import annotations

import datetime as dt
import enum
import secrets

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from oversight.extensions import db
from oversight.models.base import TimestampMixin, UTCDateTime, enum_column
from workflows.roles import Role


class Organ(TimestampMixin, db.Model):
    """A node of the organ tree. ``path`` is the materialised chain of ids ("/1/4/9/") so a
    subtree is one indexed prefix query, not a recursive walk per request."""

    __tablename__ = "organ"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organ.id"), index=True)
    pack_id: Mapped[str] = mapped_column(sa.String(40))
    path: Mapped[str] = mapped_column(sa.String(400), default="", index=True)

    parent: Mapped[Organ | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Organ {self.code} {self.name}>"

    @property
    def full_name(self) -> str:
        """The name as it heads a document: "北京市公安局朝阳分局三里屯派出所"."""
        names, node = [], self
        while node is not None:
            names.append(node.name)
            node = node.parent
        return "".join(reversed(names))

    def contains(self, other: Organ) -> bool:
        """True when ``other`` is this organ or one of its descendants."""
        return other.path.startswith(self.path)

    @property
    def pack(self):
        from workflows.policy import get_packs

        return get_packs()[self.pack_id]


class OfficerCategory(enum.Enum):
    CIVILIAN = "civilian"
    DUTY = "duty"

    @property
    def label(self) -> str:
        return str(_CATEGORY_LABELS[self.value])


_CATEGORY_LABELS = {"civilian": _l("文职"), "duty": _l("勤务")}


class EmploymentStatus(enum.Enum):
    EMPLOYED = "employed"
    ENDED = "ended"

    @property
    def label(self) -> str:
        return str(_EMPLOYMENT_LABELS[self.value])


_EMPLOYMENT_LABELS = {"employed": _l("在岗聘用"), "ended": _l("已解除聘用")}


class Officer(TimestampMixin, db.Model):
    """An auxiliary police officer (辅警). Duty status is derived from suspensions later,
    never stored here."""

    __tablename__ = "officer"

    id: Mapped[int] = mapped_column(primary_key=True)
    badge_no: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"), index=True)
    category: Mapped[OfficerCategory] = mapped_column(enum_column(OfficerCategory))
    level: Mapped[int] = mapped_column(sa.Integer, default=1)
    employment: Mapped[EmploymentStatus] = mapped_column(
        enum_column(EmploymentStatus), default=EmploymentStatus.EMPLOYED
    )

    organ: Mapped[Organ] = relationship()

    __table_args__ = (sa.CheckConstraint("level >= 1", name="level_positive"),)


class InterventionRule(TimestampMixin, db.Model):
    """An organ's early-intervention thresholds: flag an officer with ``threshold``
    complaints in ``months`` months, or with two in one of ``repeat_categories`` (pack
    codes; empty: any category). Organs without a row use the defaults (3 in 12)."""

    __tablename__ = "intervention_rule"

    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"), primary_key=True)
    threshold: Mapped[int] = mapped_column(sa.Integer, default=3)
    months: Mapped[int] = mapped_column(sa.Integer, default=12)
    repeat_categories: Mapped[list] = mapped_column(sa.JSON, default=list)

    __table_args__ = (sa.CheckConstraint("threshold >= 2 AND months >= 1",
                                         name="sensible_thresholds"),)


_OPEN = "cleared_at IS NULL"


class OfficerFlag(db.Model):
    """An early-intervention flag on an officer, for the leaders of the officer's organ,
    with the complaints that raised it. Cleared with a note; the next qualifying complaint
    raises a new one."""

    __tablename__ = "officer_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(sa.ForeignKey("officer.id"), index=True)
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))  # "count" or "repeat"
    category_code: Mapped[str] = mapped_column(sa.String(40), default="")
    complaint_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    flagged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cleared_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    clear_note: Mapped[str] = mapped_column(sa.Text, default="")

    officer: Mapped[Officer] = relationship()

    __table_args__ = (
        # the flags page: the open flags and those cleared lately, of the user's subtree
        sa.Index("ix_officer_flag_organ_open", "organ_id", "cleared_at"),
        # a leader's every page counts the open flags of their subtree (the nav's badge):
        # only the open ones are in this index, so the count reads nothing else
        sa.Index("ix_officer_flag_open", "organ_id", sqlite_where=sa.text(_OPEN),
                 postgresql_where=sa.text(_OPEN)),
        sa.CheckConstraint("cleared_at IS NULL OR clear_note <> ''", name="cleared_with_note"),
    )


class User(UserMixin, TimestampMixin, db.Model):
    """A staff account. ``session_nonce`` is part of every session cookie, so changing it
    (logout, password change, disable) kills old cookies on the server side."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(60), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(60))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officer.id"))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    #: where reminders and 督办 notices go (optional: without it they stay in the app)
    email: Mapped[str] = mapped_column(sa.String(254), default="", server_default="")
    session_nonce: Mapped[str] = mapped_column(
        sa.String(64), default=lambda: secrets.token_hex(16)
    )
    #: base32 TOTP secret of an enrolled second factor; empty: none enrolled
    totp_secret: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    #: the last 30-second step accepted, so a code can never be used twice
    totp_last_step: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")

    organ: Mapped[Organ] = relationship()
    officer: Mapped[Officer | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'officer') = (officer_id IS NOT NULL)", name="officer_account_link"
        ),
    )

    def set_password(self, password: str) -> None:
        # Tests configure a cheap method; production keeps Werkzeug's default (scrypt).
        method = current_app.config.get("PASSWORD_HASH_METHOD") if has_app_context() else None
        self.password_hash = generate_password_hash(password, method=method or "scrypt")
        self.rotate_sessions()

    def rotate_sessions(self) -> None:
        """Kill every session of this account on the server side (cookies carry the nonce)."""
        self.session_nonce = secrets.token_hex(16)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active


class SecuritySetting(db.Model):
    """A system-wide security setting an admin may change (for now: which roles must use a
    second factor). Who changed it and when is kept on the row and in the security log."""

    __tablename__ = "security_setting"

    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(400), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
