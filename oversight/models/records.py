"""Records every case type shares: the hash-chained event log, clocks, notices, the mail
and search outboxes, attachments and throttling counters.

Cases of every type are addressed by ``(case_type, case_id)``; each case type keeps its
own table for its own columns.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from oversight.extensions import db
from oversight.models.append_only import attach as attach_append_only
from oversight.models.base import CASE_TABLE_STORAGE, UTCDateTime, enum_column, utcnow
from workflows.roles import Role


class ImmutableRecordError(RuntimeError):
    """Raised when code tries to change an append-only record."""


class CaseEvent(db.Model):
    """One row per transition: append-only and hash-chained per case."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_type: Mapped[str] = mapped_column(sa.String(32))
    case_id: Mapped[int] = mapped_column(sa.Integer)
    seq: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    actor_role: Mapped[Role] = mapped_column(enum_column(Role))
    trigger: Mapped[str] = mapped_column(sa.String(40))
    from_state: Mapped[str] = mapped_column(sa.String(40))
    to_state: Mapped[str] = mapped_column(sa.String(40))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    article: Mapped[str] = mapped_column(sa.String(200), default="")
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    public: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    # The unique (case_type, case_id, seq) also serves every lookup of a case's events
    # (its history, its last seq and hash), so no separate (case_type, case_id) index.
    # Statistics find events by what happened (the first outcome notice of each
    # complaint): 907 to 351 ms at 100k cases with the second index.
    __table_args__ = (sa.UniqueConstraint("case_type", "case_id", "seq"),
                      sa.Index("ix_case_event_type_trigger", "case_type", "trigger",
                               "case_id", "at"))


class ClockOutcome(enum.Enum):
    RUNNING = "running"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return str(_OUTCOME_LABELS[self.value])


_OUTCOME_LABELS = {"running": _l("计时中"), "met": _l("按期完成"), "breached": _l("已超期"),
                   "cancelled": _l("已终止")}

#: What each clock (a pack limit key) is for, as shown on case pages.
CLOCK_LABELS = {
    "acknowledge": _l("告知是否受理"),
    "conclude": _l("办结"),
    "extend_max": _l("延长办理期限（最长）"),
    "review_answer": _l("答复复查申请"),
    "review_request": _l("申请复查"),
    "recheck_request": _l("请求复核"),
    "recheck_answer": _l("答复复核请求"),
    "recusal_decide": _l("作出回避决定"),
    "recusal_reconsider_request": _l("申请回避复议"),
    "recusal_reconsider_answer": _l("答复回避复议"),
    "statement_window": _l("陈述申辩"),
    "appeal_window": _l("提出申诉"),
    "suspension_max": _l("暂停履职期满"),
}

#: A clock's unit after its amount ("15 个工作日").
UNIT_LABELS = {
    "calendar_days": _l("日"),
    "working_days": _l("个工作日"),
    "hours": _l("小时"),
    "months": _l("个月"),
}


class CaseClock(db.Model):
    """A statutory time limit running on a case, with the article it comes from."""

    __tablename__ = "case_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_type: Mapped[str] = mapped_column(sa.String(32))
    case_id: Mapped[int] = mapped_column(sa.Integer)
    #: the case's organ, copied when the clock starts: a case's organ never changes once
    #: it is opened (a transfer opens a new case; ``registry.register`` refuses a change),
    #: so the deadlines list finds a subtree's clocks without visiting each case
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[ClockOutcome] = mapped_column(
        enum_column(ClockOutcome), default=ClockOutcome.RUNNING
    )
    amount: Mapped[int] = mapped_column(sa.Integer)
    unit: Mapped[str] = mapped_column(sa.String(20))
    citation: Mapped[str] = mapped_column(sa.String(200))
    #: the due date the limit gave at the start, before any extension or pause
    base_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: days added by an approved extension (信访工作条例 第三十四条: once, at most 30)
    extended_days: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    #: while paused (time a rule excludes, such as a hearing under 第三十六条): since when
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: every closed pause, [{"from": iso, "to": iso, "reason": str}], oldest first
    pauses: Mapped[list] = mapped_column(sa.JSON, default=list,
                                         server_default=sa.text("'[]'"))

    __table_args__ = (sa.Index("ix_case_clock_case", "case_type", "case_id"),
                      sa.Index("ix_case_clock_running_due", "outcome", "due_at"),
                      # a subtree's running, unpaused clocks by due date, from the index
                      # alone (the deadlines list and its count; statistics)
                      sa.Index("ix_case_clock_organ_running", "outcome", "organ_id",
                               "paused_at", "due_at"),
                      CASE_TABLE_STORAGE)

    @property
    def running(self) -> bool:
        return self.outcome is ClockOutcome.RUNNING

    @property
    def label(self) -> str:
        return str(CLOCK_LABELS.get(self.kind, self.kind))

    @property
    def unit_label(self) -> str:
        return str(UNIT_LABELS.get(self.unit, self.unit))


class ClockReminder(db.Model):
    """A reminder sent for a clock. One per clock, kind and due date, so running the
    reminder command twice sends nothing twice (and a new due date may be reminded)."""

    __tablename__ = "clock_reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    clock_id: Mapped[int] = mapped_column(sa.ForeignKey("case_clock.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # "due_soon" or "overdue"
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipients: Mapped[int] = mapped_column(sa.Integer, default=0)

    __table_args__ = (sa.UniqueConstraint("clock_id", "kind", "due_at"),)


class Supervision(db.Model):
    """A 督办: an upper organ's recorded urge, with a deadline, on an overdue case of its
    subtree. It notifies the handling organ's staff and shows on the case."""

    __tablename__ = "supervision"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_type: Mapped[str] = mapped_column(sa.String(32))
    case_id: Mapped[int] = mapped_column(sa.Integer)
    #: the organ that issued it (an ancestor of the case's organ) and who
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))
    issued_by_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the organ handling the case when it was issued (whose staff were notified)
    handler_organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"), index=True)
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(sa.Text)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    response: Mapped[str] = mapped_column(sa.Text, default="")

    __table_args__ = (sa.Index("ix_supervision_case", "case_type", "case_id"),)


class Notice(db.Model):
    """A numbered notice (告知书), rendered once and never changed."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    case_type: Mapped[str] = mapped_column(sa.String(32))
    case_id: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    issuer_organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"))
    public: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_notice_case", "case_type", "case_id"),)


class MailStatus(enum.Enum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return str(_MAIL_STATUS_LABELS[self.value])


_MAIL_STATUS_LABELS = {"queued": _l("待发送"), "sent": _l("已发送"), "failed": _l("发送失败")}


class MailOutbox(db.Model):
    """Email waiting to be sent; without SMTP it stays here for admins to see."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice.id"))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[MailStatus] = mapped_column(enum_column(MailStatus), default=MailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str] = mapped_column(sa.String(300), default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SearchOutbox(db.Model):
    """Append-only change feed for the search index: each indexer keeps its own cursor."""

    __tablename__ = "search_outbox"

    seq: Mapped[int] = mapped_column(primary_key=True)
    case_type: Mapped[str] = mapped_column(sa.String(32))
    case_id: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(db.Model):
    """An evidence file. Stored under instance/ by content hash with a server-made name."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_type: Mapped[str] = mapped_column(sa.String(32))
    case_id: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    mime: Mapped[str] = mapped_column(sa.String(80))
    size: Mapped[int] = mapped_column(sa.Integer)
    original_name: Mapped[str] = mapped_column(sa.String(200))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    from_public: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    __table_args__ = (sa.Index("ix_attachment_case", "case_type", "case_id"),)


class Throttle(db.Model):
    """Failure counters kept in the database so limits hold across gunicorn workers."""

    __tablename__ = "throttle"

    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)


class Sequence(db.Model):
    """Yearly counters for case and notice numbers."""

    __tablename__ = "number_sequence"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    value: Mapped[int] = mapped_column(sa.Integer, default=0)


class CaseCount(db.Model):
    """How many cases of a type are in a state at an organ, kept by the writes themselves
    (``oversight.services.counts``): the queue's totals and 待我处理 add up a subtree's
    rows here instead of counting its cases, so they cost the same at any number of
    cases (a city bureau's to-do count read 2.2 ms at a million cases, 0.5 ms at 10,000).

    Derived from the case tables and always equal to them: every insert of a case and
    every change of its state changes the row in the same statement batch, so the two
    commit or roll back together. ``oversight counts`` checks it against the case tables
    and mends it (after rows were written around the ORM, as the bulk seeder does)."""

    __tablename__ = "case_count"

    case_type: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    organ_id: Mapped[int] = mapped_column(sa.ForeignKey("organ.id"), primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    n: Mapped[int] = mapped_column(sa.Integer)


attach_append_only(CaseEvent.__table__)
attach_append_only(Notice.__table__)


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(Notice, "before_update")
def _refuse_update(_mapper, _connection, target):
    raise ImmutableRecordError(f"{type(target).__name__} rows are append-only")


@event.listens_for(CaseEvent, "before_delete")
@event.listens_for(Notice, "before_delete")
def _refuse_delete(_mapper, _connection, target):
    raise ImmutableRecordError(f"{type(target).__name__} rows are append-only")


class StatsSnapshot(db.Model):
    """Statistics as computed at ``computed_at``, shared by every worker and kept across
    restarts (``oversight.services.stats.recent``): a city bureau's figures read hundreds
    of thousands of rows at a million cases, so they are computed once for everyone who
    asks within ``STATS_CACHE_SECONDS``, and ahead of the request by ``refresh-stats``.

    Not a record: a row can be dropped at any time and is computed again. ``key`` names
    what was counted (the page, the user's subtree, the chosen organ, the dates) and is
    enough to count it again; ``figures`` are the raw counts as JSON (labels are added in
    the reader's language when shown), in the layout ``format`` names. ``read_at`` is when
    a worker last loaded the row (marked at most hourly), so the refresher keeps only the
    figures someone still reads."""

    __tablename__ = "stats_snapshot"

    key: Mapped[str] = mapped_column(sa.String(500), primary_key=True)
    format: Mapped[int] = mapped_column(sa.Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    figures: Mapped[str] = mapped_column(sa.Text)
