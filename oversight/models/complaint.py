"""The complaint aggregate. The complainant's identity lives in its own table so that
nothing that loads a complaint for an officer or for search can reach it by accident."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oversight.extensions import db
from oversight.models.base import (
    CASE_TABLE_STORAGE,
    TimestampMixin,
    UTCDateTime,
    case_table_indexes,
    enum_column,
)
from oversight.models.org import Officer, Organ
from workflows.complaint import ComplaintKind, ComplaintState, Finding

if TYPE_CHECKING:
    from oversight.models.investigation import Investigation


class Complaint(TimestampMixin, db.Model):
    __tablename__ = "complaint"
    case_type = "complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))  # see CASE_INDEXES
    state: Mapped[ComplaintState] = mapped_column(enum_column(ComplaintState), index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    kind: Mapped[ComplaintKind] = mapped_column(enum_column(ComplaintKind))
    anonymous: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    category_code: Mapped[str] = mapped_column(sa.String(40))
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officer.id"), index=True)
    officer_badge_text: Mapped[str] = mapped_column(sa.String(20), default="")
    officer_description: Mapped[str] = mapped_column(sa.String(500), default="")
    incident_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    incident_place: Mapped[str] = mapped_column(sa.String(200), default="")
    narrative: Mapped[str] = mapped_column(sa.Text)
    access_code_hash: Mapped[str] = mapped_column(sa.String(128))
    #: sha256 of the form's one-time submission key: a resubmitted form files nothing twice
    submission_key_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    finding: Mapped[Finding | None] = mapped_column(enum_column(Finding))
    facts: Mapped[str] = mapped_column(sa.Text, default="")
    handling: Mapped[str] = mapped_column(sa.Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("complaint.id"))
    transferred_to_id: Mapped[int | None] = mapped_column(sa.ForeignKey("complaint.id"))
    transferred_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("complaint.id"))
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    review_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: set when a 复查 is answered: the 复核 window (第三十六条) closes then
    recheck_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    recheck_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rating_comment: Mapped[str] = mapped_column(sa.String(500), default="")
    #: the investigation this complaint is handled in (several complaints may share one)
    investigation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("investigation.id"),
                                                         index=True)

    organ: Mapped[Organ] = relationship()
    officer: Mapped[Officer | None] = relationship()
    merged_into: Mapped[Complaint | None] = relationship(
        remote_side=[id], foreign_keys=[merged_into_id]
    )
    transferred_to: Mapped[Complaint | None] = relationship(
        remote_side=[id], foreign_keys=[transferred_to_id]
    )
    investigation: Mapped[Investigation | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        *case_table_indexes("complaint"),
        sa.CheckConstraint(
            "(state = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_target"
        ),
        sa.CheckConstraint(
            "(state = 'transferred') = (transferred_to_id IS NOT NULL)",
            name="transferred_has_target",
        ),
        sa.CheckConstraint(
            "finding IS NOT NULL OR state IN ('submitted','refusal_pending','not_accepted',"
            "'accepted','transferred','merged','investigating','withdrawn')",
            name="concluded_has_finding",
        ),
        sa.CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating_range"),
        CASE_TABLE_STORAGE,
    )

    @property
    def pack(self):
        return self.organ.pack

    @property
    def category(self):
        return self.pack.category(self.category_code)

    def _clocks(self, kind: str, *conditions) -> int:
        from oversight.models.records import CaseClock

        return db.session.execute(sa.select(sa.func.count(CaseClock.id)).where(
            CaseClock.case_type == self.case_type, CaseClock.case_id == self.id,
            CaseClock.kind == kind, *conditions)).scalar()

    @property
    def extended(self) -> bool:
        """The time limit to conclude was extended once already (第三十四条 allows one)."""
        from oversight.models.records import CaseClock

        return self._clocks("conclude", CaseClock.extended_days > 0) > 0

    @property
    def hearing_open(self) -> bool:
        """A 复核 hearing is under way: its clock is paused."""
        from oversight.models.records import CaseClock

        return self._clocks("recheck_answer", CaseClock.paused_at.is_not(None)) > 0

    @property
    def investigation_open(self) -> bool:
        """Linked to an investigation that has not concluded: its finding will be ours."""
        return self.investigation is not None and not self.investigation.concluded


class ComplainantIdentity(db.Model):
    """Who complained and how to reach them. Shown only to the handling organ's intake
    and inspectors; never indexed, never in events, never to the officer."""

    __tablename__ = "complainant_identity"

    complaint_id: Mapped[int] = mapped_column(sa.ForeignKey("complaint.id"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), default="")
    phone: Mapped[str] = mapped_column(sa.String(20), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
