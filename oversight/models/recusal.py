"""The recusal application aggregate. The applicant's identity lives in its own table, as
the complainant's does: nothing that loads an application for search or for the officer
can reach it by accident."""

from __future__ import annotations

import datetime as dt

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
from workflows.recusal import RecusalOrigin, RecusalState


class Recusal(TimestampMixin, db.Model):
    __tablename__ = "recusal"
    case_type = "recusal"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    #: the deciding organ: the officer's own (北京 第十七条, 云南 第三十条)
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))  # see CASE_INDEXES
    state: Mapped[RecusalState] = mapped_column(enum_column(RecusalState), index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    origin: Mapped[RecusalOrigin] = mapped_column(enum_column(RecusalOrigin))
    #: a pack applicant code (party, legal_rep, guardian…); empty for self/ordered
    applicant_role: Mapped[str] = mapped_column(sa.String(40), default="")
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("officer.id"), index=True)
    officer_badge_text: Mapped[str] = mapped_column(sa.String(20), default="")
    officer_description: Mapped[str] = mapped_column(sa.String(500), default="")
    #: the matter the officer should step aside from: its reference number and summary
    matter_ref: Mapped[str] = mapped_column(sa.String(60))
    matter_summary: Mapped[str] = mapped_column(sa.String(500), default="")
    #: a pack ground code where the pack enumerates grounds, else empty
    ground_code: Mapped[str] = mapped_column(sa.String(40), default="")
    ground_text: Mapped[str] = mapped_column(sa.Text, default="")
    facts: Mapped[str] = mapped_column(sa.Text)
    access_code_hash: Mapped[str | None] = mapped_column(sa.String(128))
    submission_key_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: set with the refusal notice; a 复议 is allowed once, until then
    reconsider_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reconsidered: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    #: on a grant: whether what the officer already did on the matter stands
    earlier_acts_stand: Mapped[bool | None] = mapped_column(sa.Boolean)
    earlier_acts_note: Mapped[str] = mapped_column(sa.Text, default="")

    organ: Mapped[Organ] = relationship()
    officer: Mapped[Officer | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        *case_table_indexes("recusal"),
        sa.CheckConstraint("officer_id IS NOT NULL OR officer_description <> ''",
                           name="officer_identified"),
        sa.CheckConstraint("ground_code <> '' OR ground_text <> ''", name="ground_given"),
        sa.CheckConstraint("state <> 'granted' OR earlier_acts_stand IS NOT NULL",
                           name="granted_rules_on_earlier_acts"),
        CASE_TABLE_STORAGE,
    )

    @property
    def pack(self):
        return self.organ.pack

    @property
    def ground(self):
        """The enumerated ground chosen, or None where the ground is described."""
        if not self.ground_code:
            return None
        return next((g for g in self.pack.recusal_grounds if g.code == self.ground_code), None)

    @property
    def applicant(self):
        return next((a for a in self.pack.recusal_applicants if a.code == self.applicant_role),
                    None)


class RecusalApplicant(db.Model):
    """Who applied and how to reach them; shown only to the deciding organ's staff."""

    __tablename__ = "recusal_applicant"

    recusal_id: Mapped[int] = mapped_column(sa.ForeignKey("recusal.id"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    phone: Mapped[str] = mapped_column(sa.String(20), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
