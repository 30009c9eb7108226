"""Investigations, their team and evidence log, conflict declarations, and suspensions."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oversight.extensions import db
from oversight.models.base import (
    CASE_TABLE_STORAGE,
    TimestampMixin,
    UTCDateTime,
    case_table_indexes,
    enum_column,
    utcnow,
)
from oversight.models.org import Officer, Organ, User
from oversight.models.records import ImmutableRecordError
from workflows.complaint import Finding
from workflows.investigation import (
    CONCLUDED,
    EvidenceKind,
    InvestigationOrigin,
    InvestigationState,
)
from workflows.suspension import HOLDING_STATES, SuspensionState


class Investigation(TimestampMixin, db.Model):
    __tablename__ = "investigation"
    case_type = "investigation"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))  # see CASE_INDEXES
    state: Mapped[InvestigationState] = mapped_column(enum_column(InvestigationState),
                                                      index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    origin: Mapped[InvestigationOrigin] = mapped_column(enum_column(InvestigationOrigin))
    #: the upper organ that assigned it down (交办), if any
    assigned_by_organ_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organ.id"))
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officer.id"), index=True)
    subject: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"), index=True)
    #: the finding the linked complaints take (属实/部分属实 or 查无实据/不属实)
    complaint_finding: Mapped[Finding | None] = mapped_column(enum_column(Finding))
    facts: Mapped[str] = mapped_column(sa.Text, default="")
    #: conduct categories (pack codes) found, for a violation
    category_codes: Mapped[list] = mapped_column(sa.JSON, default=list)
    concluded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    clarification: Mapped[str] = mapped_column(sa.Text, default="")
    clarified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organ: Mapped[Organ] = relationship(foreign_keys=[organ_id])
    assigned_by: Mapped[Organ | None] = relationship(foreign_keys=[assigned_by_organ_id])
    officer: Mapped[Officer | None] = relationship()
    lead: Mapped[User | None] = relationship(foreign_keys=[lead_id])
    members: Mapped[list[InvestigationMember]] = relationship(
        cascade="all, delete-orphan", order_by="InvestigationMember.user_id")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        *case_table_indexes("investigation"),
        sa.CheckConstraint("state = 'assigned' OR lead_id IS NOT NULL", name="has_lead"),
        sa.CheckConstraint("state NOT IN ('cleared','violation') OR complaint_finding "
                           "IS NOT NULL", name="concluded_has_finding"),
        CASE_TABLE_STORAGE,
    )

    @property
    def pack(self):
        return self.organ.pack

    @property
    def assistant_ids(self) -> list[int]:
        return [m.user_id for m in self.members]

    @property
    def team_ids(self) -> frozenset[int]:
        return frozenset(([self.lead_id] if self.lead_id else []) + self.assistant_ids)

    @property
    def concluded(self) -> bool:
        return self.state in CONCLUDED

    @property
    def conflicted_ids(self) -> frozenset[int]:
        """Team members who declared a conflict with the officer or with the complainant of
        a linked complaint (possibly after they were put on the team): they may not act."""
        from oversight.models.complaint import Complaint

        if not self.team_ids:
            return frozenset()
        linked = sa.select(Complaint.id).where(Complaint.investigation_id == self.id)
        parties = [ConflictDeclaration.complaint_id.in_(linked)]
        if self.officer_id is not None:
            parties.append(ConflictDeclaration.officer_id == self.officer_id)
        return frozenset(db.session.execute(
            sa.select(ConflictDeclaration.user_id).where(
                ConflictDeclaration.user_id.in_(self.team_ids), sa.or_(*parties))).scalars())

    @property
    def categories(self):
        return [self.pack.category(code) for code in self.category_codes or []]


class InvestigationMember(db.Model):
    """An assistant inspector on an investigation (the lead is ``Investigation.lead_id``)."""

    __tablename__ = "investigation_member"

    investigation_id: Mapped[int] = mapped_column(sa.ForeignKey("investigation.id"),
                                                  primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id"), primary_key=True)

    user: Mapped[User] = relationship()


class EvidenceEntry(db.Model):
    """One entry of an investigation's evidence log. Never deleted or edited: an entry is
    superseded, once, with a reason (and usually a corrected entry that replaces it)."""

    __tablename__ = "evidence_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    investigation_id: Mapped[int] = mapped_column(sa.ForeignKey("investigation.id"),
                                                  index=True)
    kind: Mapped[EvidenceKind] = mapped_column(enum_column(EvidenceKind))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: 执法记录仪 footage: device number and the time span referred to
    recorder_ref: Mapped[str] = mapped_column(sa.String(200), default="")
    attachment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("attachment.id"))
    added_by_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    superseded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    superseded_reason: Mapped[str] = mapped_column(sa.Text, default="")
    replaced_by_entry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("evidence_entry.id"))

    added_by: Mapped[User] = relationship(foreign_keys=[added_by_id])
    superseded_by: Mapped[User | None] = relationship(foreign_keys=[superseded_by_id])

    __table_args__ = (
        sa.CheckConstraint("superseded_at IS NULL OR superseded_reason <> ''",
                           name="superseded_with_reason"),
    )


#: The only columns of an evidence entry that may ever change, and only from empty.
_SUPERSEDE_COLUMNS = frozenset({"superseded_at", "superseded_by_id", "superseded_reason",
                                "replaced_by_entry_id"})


@event.listens_for(EvidenceEntry, "before_update")
def _evidence_supersede_only(_mapper, _connection, target):
    state = sa.inspect(target)
    for attr in state.attrs:
        history = attr.history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        if attr.key not in _SUPERSEDE_COLUMNS or before not in (None, ""):
            raise ImmutableRecordError("evidence entries are only ever superseded, once")


@event.listens_for(EvidenceEntry, "before_delete")
def _evidence_never_deleted(_mapper, _connection, _target):
    raise ImmutableRecordError("evidence entries are never deleted")


class ConflictDeclaration(db.Model):
    """An inspector's declared conflict of interest with an officer or with the
    complainant of a complaint. A declared inspector cannot be put on the team."""

    __tablename__ = "conflict_declaration"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officer.id"))
    complaint_id: Mapped[int | None] = mapped_column(sa.ForeignKey("complaint.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    officer: Mapped[Officer | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("(officer_id IS NULL) <> (complaint_id IS NULL)",
                           name="one_party"),
    )


class AppealOutcome(enum.Enum):
    UPHELD = "upheld"
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return str(_APPEAL_LABELS[self.value])


_APPEAL_LABELS = {"upheld": _l("维持"), "revoked": _l("撤销")}

_HOLDING = "state IN ({})".format(", ".join(f"'{s.value}'" for s in HOLDING_STATES))


class Suspension(TimestampMixin, db.Model):
    """A duty suspension. ``ends_at`` is the pack's maximum from activation; the officer is
    suspended while the state is active and that time has not passed."""

    __tablename__ = "suspension"
    case_type = "suspension"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))  # see CASE_INDEXES
    state: Mapped[SuspensionState] = mapped_column(enum_column(SuspensionState), index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    officer_id: Mapped[int] = mapped_column(sa.ForeignKey("officer.id"), index=True)
    investigation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("investigation.id"),
                                                         index=True)
    #: opened by the system because the pack makes suspension mandatory (云南 第三十二条)
    automatic: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    reason: Mapped[str] = mapped_column(sa.Text)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    appeal_text: Mapped[str] = mapped_column(sa.Text, default="")
    appeal_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    appeal_outcome: Mapped[AppealOutcome | None] = mapped_column(enum_column(AppealOutcome))
    appeal_decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organ: Mapped[Organ] = relationship()
    officer: Mapped[Officer] = relationship()
    investigation: Mapped[Investigation | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        *case_table_indexes("suspension"),
        # At most one open (requested or active) suspension per officer, enforced by the
        # database so that two concurrent investigations cannot both create one.
        sa.Index("uq_suspension_one_open", "officer_id", unique=True,
                 sqlite_where=sa.text(_HOLDING), postgresql_where=sa.text(_HOLDING)),
        sa.CheckConstraint("state <> 'active' OR (started_at IS NOT NULL AND ends_at IS NOT "
                           "NULL)", name="active_has_term"),
        CASE_TABLE_STORAGE,
    )

    @property
    def pack(self):
        return self.organ.pack

    def in_force(self, now: dt.datetime) -> bool:
        return (self.state is SuspensionState.ACTIVE and self.ends_at is not None
                and now < self.ends_at)
