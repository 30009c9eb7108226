"""The consequences stage: disciplinary decisions, the officer's appeals against them, and
compensation recovery with its instalments and payments. Money is integer fen throughout."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
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
from oversight.models.investigation import Investigation
from oversight.models.org import EmploymentStatus, Officer, Organ, User
from oversight.models.records import ImmutableRecordError
from workflows.appeal import AppealState
from workflows.discipline import DisciplineState
from workflows.recovery import BasisKind, Fault, RecoveryState, instalment_status


class DisciplinaryDecision(TimestampMixin, db.Model):
    """A 处理决定 about one officer, from an investigation's violation finding."""

    __tablename__ = "discipline_decision"
    case_type = "discipline"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))  # see CASE_INDEXES
    state: Mapped[DisciplineState] = mapped_column(enum_column(DisciplineState), index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    officer_id: Mapped[int] = mapped_column(sa.ForeignKey("officer.id"), index=True)
    investigation_id: Mapped[int] = mapped_column(sa.ForeignKey("investigation.id"),
                                                  index=True)
    #: the measure the officer was told of last (pack code, its severity and label kept so
    #: the "never heavier" rule reads what was told even if the pack changes later)
    proposed_measure_code: Mapped[str] = mapped_column(sa.String(40))
    proposed_severity: Mapped[int] = mapped_column(sa.Integer)
    proposed_label: Mapped[str] = mapped_column(sa.String(40))
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id"))
    #: the measure decided (the proposal until approval; an appeal may vary it)
    measure_code: Mapped[str] = mapped_column(sa.String(40))
    #: the listed ground, where the pack lists grounds for the measure (四川 第三十二条)
    ground_code: Mapped[str] = mapped_column(sa.String(40), default="")
    facts: Mapped[str] = mapped_column(sa.Text)
    #: the articles the conduct breached, as the proposal states them
    articles: Mapped[str] = mapped_column(sa.Text, default="")
    #: how many times the officer was told (1, then 2 after new facts…)
    round: Mapped[int] = mapped_column(sa.Integer, default=1)
    notified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    statement_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    statement_text: Mapped[str] = mapped_column(sa.Text, default="")
    statement_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: recorded by staff from a statement made in person
    statement_in_person: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    statement_waived: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    served_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    appeal_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    executed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: the trade union told beforehand of the reason (劳动合同法 第四十三条)
    union_notified_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    #: the officer's record before execution, restored if an appeal revokes it
    prior_level: Mapped[int | None] = mapped_column(sa.Integer)
    prior_employment: Mapped[EmploymentStatus | None] = mapped_column(
        enum_column(EmploymentStatus))
    paused: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: the supervising police officer referred for management failure (云南 第四十条)
    supervisor_name: Mapped[str] = mapped_column(sa.String(100), default="")
    referred_to: Mapped[str] = mapped_column(sa.String(200), default="")
    referred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organ: Mapped[Organ] = relationship()
    officer: Mapped[Officer] = relationship()
    investigation: Mapped[Investigation] = relationship()
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        *case_table_indexes("discipline_decision"),
        sa.CheckConstraint("proposed_severity >= 1", name="severity_positive"),
        sa.CheckConstraint("round >= 1", name="round_positive"),
        sa.CheckConstraint("state NOT IN ('approved','served','executed') OR approved_by_id "
                           "IS NOT NULL", name="approved_has_approver"),
        sa.CheckConstraint("approved_by_id IS NULL OR approved_by_id <> proposed_by_id",
                           name="four_eyes"),
        CASE_TABLE_STORAGE,
    )

    @property
    def pack(self):
        return self.organ.pack

    @property
    def measure(self):
        return self.pack.measure(self.measure_code)

    @property
    def ground(self):
        return self.measure.ground(self.ground_code) if self.ground_code else None


class Appeal(TimestampMixin, db.Model):
    """An officer's 申诉 against a decision, reviewed by the upper organ (``organ_id``)."""

    __tablename__ = "appeal"
    case_type = "appeal"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))  # see CASE_INDEXES
    state: Mapped[AppealState] = mapped_column(enum_column(AppealState), index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    officer_id: Mapped[int] = mapped_column(sa.ForeignKey("officer.id"), index=True)
    #: one appeal per decision
    decision_id: Mapped[int] = mapped_column(sa.ForeignKey("discipline_decision.id"),
                                             unique=True)
    grounds: Mapped[str] = mapped_column(sa.Text)
    filed_in_person: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    pause_ordered: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    #: the measure an appeal varied the decision to
    varied_measure_code: Mapped[str] = mapped_column(sa.String(40), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))

    organ: Mapped[Organ] = relationship()
    officer: Mapped[Officer] = relationship()
    decision: Mapped[DisciplinaryDecision] = relationship()
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])

    __table_args__ = (*case_table_indexes("appeal"), CASE_TABLE_STORAGE)
    __mapper_args__ = {"version_id_col": version}

    @property
    def pack(self):
        # The decision's pack: the appeal reviews a decision made under it.
        return self.decision.pack


class Recovery(TimestampMixin, db.Model):
    """A 追偿 of compensation the organ paid for damage the officer caused in duty."""

    __tablename__ = "recovery"
    case_type = "recovery"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))  # see CASE_INDEXES
    state: Mapped[RecoveryState] = mapped_column(enum_column(RecoveryState), index=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    officer_id: Mapped[int] = mapped_column(sa.ForeignKey("officer.id"), index=True)
    #: what the organ paid, to whom, when, and under what
    paid_fen: Mapped[int] = mapped_column(sa.BigInteger)
    payee: Mapped[str] = mapped_column(sa.String(200))
    paid_on: Mapped[dt.date] = mapped_column(sa.Date)
    basis_kind: Mapped[BasisKind] = mapped_column(enum_column(BasisKind))
    basis_ref: Mapped[str] = mapped_column(sa.String(200))
    #: the case the damage arose in (a complaint, investigation or decision number)
    linked_number: Mapped[str] = mapped_column(sa.String(20), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: 应当 or 可以, fixed when opened from the pack and the basis
    mandatory: Mapped[bool] = mapped_column(sa.Boolean)
    rule_key: Mapped[str] = mapped_column(sa.String(40))
    fault: Mapped[Fault | None] = mapped_column(enum_column(Fault))
    fault_facts: Mapped[str] = mapped_column(sa.Text, default="")
    proposed_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    proposed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    statement_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    statement_text: Mapped[str] = mapped_column(sa.Text, default="")
    statement_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    statement_in_person: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    statement_waived: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    ordered_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    ordered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    ordered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    waiver_basis: Mapped[str] = mapped_column(sa.Text, default="")
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organ: Mapped[Organ] = relationship()
    officer: Mapped[Officer] = relationship()
    instalments: Mapped[list[RecoveryInstalment]] = relationship(
        order_by="RecoveryInstalment.seq", cascade="all, delete-orphan")
    payments: Mapped[list[RecoveryPayment]] = relationship(
        order_by="(RecoveryPayment.paid_on, RecoveryPayment.id)")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        *case_table_indexes("recovery"),
        sa.CheckConstraint("paid_fen > 0", name="paid_positive"),
        sa.CheckConstraint("proposed_fen IS NULL OR (proposed_fen > 0 AND proposed_fen <= "
                           "paid_fen)", name="proposed_within_paid"),
        sa.CheckConstraint("ordered_fen IS NULL OR (ordered_fen > 0 AND ordered_fen <= "
                           "paid_fen AND ordered_fen <= proposed_fen)",
                           name="ordered_within_proposed"),
        CASE_TABLE_STORAGE,
    )

    @property
    def pack(self):
        return self.organ.pack

    @property
    def rule(self):
        return self.pack.rule(self.rule_key)

    @property
    def repaid_fen(self) -> int:
        return sum(p.amount_fen for p in self.payments)

    @property
    def outstanding_fen(self) -> int | None:
        if self.ordered_fen is None:
            return None
        return self.ordered_fen - self.repaid_fen

    def schedule(self):
        """Each instalment with how much of it the payments so far cover (oldest first)."""
        return instalment_status([(i.seq, i.due_on, i.amount_fen) for i in self.instalments],
                                 self.repaid_fen)

    def overdue_instalments(self, today: dt.date):
        return [s for s in self.schedule() if s.overdue(today)]


class RecoveryInstalment(db.Model):
    """One instalment of a repayment plan (amounts sum exactly to the ordered amount)."""

    __tablename__ = "recovery_instalment"

    recovery_id: Mapped[int] = mapped_column(sa.ForeignKey("recovery.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    due_on: Mapped[dt.date] = mapped_column(sa.Date)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="instalment_positive"),)


class RecoveryPayment(db.Model):
    """A repayment received. Append-only: a mistaken entry is corrected by the accounts
    office, never by editing this ledger."""

    __tablename__ = "recovery_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    recovery_id: Mapped[int] = mapped_column(sa.ForeignKey("recovery.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    paid_on: Mapped[dt.date] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    recorded_by: Mapped[User] = relationship()

    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="payment_positive"),)


@event.listens_for(RecoveryPayment, "before_update")
def _payment_never_edited(_mapper, _connection, _target):
    raise ImmutableRecordError("recorded payments are never edited")


@event.listens_for(RecoveryPayment, "before_delete")
def _payment_never_deleted(_mapper, _connection, _target):
    raise ImmutableRecordError("recorded payments are never deleted")
