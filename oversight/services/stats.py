"""Statistics: the staff dashboard (scoped to the user's organ subtree) and the public
transparency figures (aggregates only, small counts suppressed).

Every figure is counted in SQL with GROUP BY, in a fixed number of statements whatever the
amount of data: Python only folds the grouped rows (months into quarters, a histogram of
handling days into a median). Calendar boundaries are Beijing's (``workflows.clocks``):
a case created at 2026-10-31T17:00Z belongs to November. The SQL that turns a UTC
timestamp into a Beijing date is the only dialect-specific piece, compiled below for
SQLite and PostgreSQL.

Each statement reads as few rows as it can (bench/stats.py measures them): a case table's
(organ_id, state, created_at) index answers the counts by organ, type, state and month
without reading the cases, and the (case_type, trigger, case_id, at) index of case_event
gives each complaint's first outcome notice without reading the events. Even so a city
bureau's figures read tens of thousands of rows (categories, clocks), hundreds of
thousands at a million cases, so both pages show figures counted at most
``STATS_CACHE_SECONDS`` before, kept for every worker in ``stats_snapshot`` and counted
again ahead of the request by ``refresh`` (see ``recent``), and say when they were
counted.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import logging
import math
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from oversight import storage
from oversight.extensions import db
from oversight.models import (
    CaseClock,
    CaseEvent,
    ClockOutcome,
    Complaint,
    Investigation,
    Organ,
    StatsSnapshot,
    Suspension,
)
from oversight.services import organs, registry
from oversight.services.access import can
from oversight.services.investigations import VIOLATION_FINDINGS
from workflows.clocks import LOCAL_TZ
from workflows.policy import PolicyError, get_packs
from workflows.recusal import RecusalState
from workflows.suspension import SuspensionState

#: The trigger that issues a complaint's outcome notice (处理结果告知书): the complaint is
#: handled when the complainant is told. A reopened complaint is told again; the first
#: notice counts.
OUTCOME_TRIGGER = "issue_notice"
#: 属实 or 部分属实: the findings an investigation counts as a violation
SUBSTANTIATED = VIOLATION_FINDINGS
RECUSAL_REFUSED = (RecusalState.DENIED, RecusalState.DENIED_FINAL)
#: Public figures below this are shown as "<5"; a median needs this many cases.
SMALL_COUNT = 5
#: Computed figures kept per process at most (see ``recent``), whatever users and filters
#: ask for: each holds a few rows per organ of its scope and per month, tens of kB for a
#: city bureau.
RECENT_ENTRIES = 128


# --- Beijing dates in SQL ------------------------------------------------------------------

# Asia/Shanghai has kept UTC+8 without daylight saving since 1991, so on SQLite (which
# stores naive UTC text and has no time zone database) a fixed shift is exact.
_OFFSET_HOURS = int(dt.datetime(2026, 1, 1, tzinfo=LOCAL_TZ).utcoffset() / dt.timedelta(hours=1))
_SQLITE_SHIFT = f"'{_OFFSET_HOURS:+d} hours'"
_PG_ZONE = f"'{LOCAL_TZ.key}'"


class local_date(FunctionElement):  # noqa: N801 - reads as a SQL function
    """The Beijing calendar date of a UTC timestamp column."""

    type = sa.Date()
    inherit_cache = True


class local_month(FunctionElement):  # noqa: N801
    """The Beijing calendar month (``YYYY-MM``) of a UTC timestamp column."""

    type = sa.String()
    inherit_cache = True


class local_days_between(FunctionElement):  # noqa: N801
    """Beijing calendar days from the first timestamp's date to the second's."""

    type = sa.Integer()
    inherit_cache = True


@compiles(local_date)
def _local_date_pg(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE {_PG_ZONE}) AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, {_SQLITE_SHIFT})"


@compiles(local_month)
def _local_month_pg(element, compiler, **kw):
    return (f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE {_PG_ZONE}, "
            "'YYYY-MM')")


@compiles(local_month, "sqlite")
def _local_month_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, {_SQLITE_SHIFT})"


@compiles(local_days_between)
def _days_pg(element, compiler, **kw):
    start, end = (compiler.process(local_date(c), **kw) for c in element.clauses)
    return f"({end} - {start})"


@compiles(local_days_between, "sqlite")
def _days_sqlite(element, compiler, **kw):
    start, end = (compiler.process(local_date(c), **kw) for c in element.clauses)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


def local_bounds(date_from: dt.date | None, date_to: dt.date | None
                 ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The UTC half-open interval [start, end) of the Beijing days ``date_from`` to
    ``date_to`` inclusive (either may be open)."""
    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), LOCAL_TZ).astimezone(dt.UTC)

    return (midnight(date_from) if date_from else None,
            midnight(date_to + dt.timedelta(days=1)) if date_to else None)


# --- small pure helpers --------------------------------------------------------------------


def percentile(histogram: dict[int, int], p: float) -> float | None:
    """The ``p`` quantile (0–1) of the values a histogram {value: count} holds, linearly
    interpolated between neighbours as PostgreSQL's ``percentile_cont`` does; None when
    empty."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = (n - 1) * p
    lo, hi = math.floor(rank), math.ceil(rank)

    def nth(k: int) -> int:
        seen = 0
        for value in sorted(histogram):
            seen += histogram[value]
            if k < seen:
                return value
        raise IndexError(k)

    low = nth(lo)
    return low + (nth(hi) - low) * (rank - lo)


@functools.cache  # called once per grouped row (50,000 at 100k cases), for a few months
def quarter_of(month: str) -> str:
    """``2026-11`` -> ``2026-Q4``."""
    year, mon = month.split("-")
    return f"{year}-Q{(int(mon) - 1) // 3 + 1}"


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` (``YYYY-MM``), so a chart shows empty months."""
    year, mon = map(int, first.split("-"))
    out = []
    while f"{year:04d}-{mon:02d}" <= last:
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return out


def days_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def rate_text(numerator: int, denominator: int) -> str:
    return "—" if not denominator else f"{100 * numerator / denominator:.1f}%"


def shown_count(n: int) -> str:
    """A public count: exact from 5 up, "<5" for 1 to 4 (0 is not identifying)."""
    return f"<{SMALL_COUNT}" if 0 < n < SMALL_COUNT else str(n)


# --- tables --------------------------------------------------------------------------------


@dataclass
class Table:
    """One figure as rows, drawn as an HTML table (and optionally a bar chart) and
    exported as CSV under ``name``."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    #: (label, value) bars; None for tables that are not charted
    chart: list[tuple[str, int]] | None = None
    note: str = ""

    def csv_bytes(self) -> bytes:
        """UTF-8 with a byte order mark, so that Excel reads the Chinese correctly."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return ("\ufeff" + out.getvalue()).encode("utf-8")


def _counted(name: str, title: str, first_column: str, counts: Iterable[tuple[str, int]],
             note: str = "") -> Table:
    pairs = list(counts)
    return Table(name, title, [first_column, _("件数")], [[label, n] for label, n in pairs],
                 chart=pairs, note=note)


# --- scope ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What figures cover: the subtree at ``within`` (a staff user's own organ, see
    ``of_user``), narrowed to ``organ``'s subtree when chosen, and cases created in the
    Beijing days ``date_from`` to ``date_to``.

    Plain values, so that the figures can be counted again without the user who first
    asked (``refresh``), and ``key`` names them for everyone whose scope is the same."""

    within: str
    organ: Organ | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @classmethod
    def of_user(cls, actor: Any, organ: Organ | None = None,
                date_from: dt.date | None = None, date_to: dt.date | None = None) -> Scope:
        """The scope of ``actor``'s statistics: their organ's subtree, the one
        ``scope_filter`` gives every user allowed statistics. Refused to anyone else."""
        if not can(actor, "stats"):
            raise PermissionError("statistics are not allowed to this user")
        return cls(actor.organ.path, organ, date_from, date_to)

    @property
    def key(self) -> str:
        """Everything the figures depend on besides the data and the time: users of one
        organ share their figures; no one ever gets another subtree's."""
        return "|".join(("dashboard", self.within,
                         self.organ.path if self.organ is not None else "",
                         self.date_from.isoformat() if self.date_from else "",
                         self.date_to.isoformat() if self.date_to else ""))

    @classmethod
    def from_key(cls, key: str) -> Scope | None:
        """The scope ``key`` names, or None when it names no dashboard or an organ that
        is no longer there."""
        parts = key.split("|")
        if len(parts) != 5 or parts[0] != "dashboard":
            return None
        _kind, within, chosen, date_from, date_to = parts
        paths = {within, chosen} - {""}
        found = {o.path: o for o in db.session.execute(
            sa.select(Organ).where(Organ.path.in_(paths))).scalars()}
        if set(found) != paths:
            return None
        return cls(within, found.get(chosen),
                   dt.date.fromisoformat(date_from) if date_from else None,
                   dt.date.fromisoformat(date_to) if date_to else None)

    def organs(self, column) -> list:
        conditions = [organs.in_subtree(column, self.within)]
        if self.organ is not None:
            conditions.append(organs.in_subtree(column, self.organ.path))
        return conditions

    def cases(self, model) -> list:
        start, end = local_bounds(self.date_from, self.date_to)
        conditions = self.organs(model.organ_id)
        if start is not None:
            conditions.append(model.created_at >= start)
        if end is not None:
            conditions.append(model.created_at < end)
        return conditions


def _each_type(scope: Scope, columns) -> list:
    """One SELECT per case type of ``columns(model)`` over its cases in scope, each row
    headed by the case type's name."""
    parts = []
    for name in registry.case_types():
        model = registry.binding_for(name).model
        parts.append(sa.select(sa.literal_column(f"'{name}'", sa.String()).label("case_type"),
                               *columns(model)).where(*scope.cases(model)))
    return parts


def _pairs(rows) -> list[list]:
    """Grouped rows as JSON-ready lists."""
    return [list(row) for row in rows]


# --- the staff dashboard -------------------------------------------------------------------


@dataclass
class Dashboard:
    """The figures, as counted (``figures``: plain values that JSON keeps as they are)
    and as drawn (``tables``, labelled in the reader's language)."""

    figures: dict[str, Any]
    tables: list[Table]
    complaint_days: dict[int, int]
    investigation_days: dict[int, int]
    overdue: tuple[int, int]
    substantiated: tuple[int, int]
    recusals_granted: int
    recusals_refused: int
    suspensions_active: int

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    @classmethod
    def of(cls, figures: dict[str, Any]) -> Dashboard:
        """The dashboard drawn from ``dashboard_figures()``, just counted or as kept."""
        by_state = Counter({(case_type, state): n
                            for case_type, state, n in figures["by_state"]})
        board = cls(
            figures=figures, tables=[],
            complaint_days={days: n for days, n in figures["complaint_days"]},
            investigation_days={days: n for days, n in figures["investigation_days"]},
            overdue=tuple(figures["overdue"]), substantiated=tuple(figures["substantiated"]),
            recusals_granted=by_state[("recusal", RecusalState.GRANTED.value)],
            recusals_refused=sum(by_state[("recusal", s.value)] for s in RECUSAL_REFUSED),
            suspensions_active=figures["suspended"])
        board.tables = [
            _month_table(Counter(dict(figures["by_month"]))),
            _type_table(Counter(dict(figures["by_type"]))),
            _category_table(figures["categories"]),
            _counted("organ", _("按机关"), _("机关"), [tuple(pair) for pair in figures["organs"]],
                     note=_("各机关本级受理或立案的案件，不含下级机关。")),
            _state_table(by_state), _handling_table(board), _rates_table(board),
        ]
        return board


def dashboard(scope: Scope, now: dt.datetime) -> Dashboard:
    """The staff figures for ``scope``, counted now."""
    return Dashboard.of(dashboard_figures(scope, now))


def dashboard_figures(scope: Scope, now: dt.datetime) -> dict[str, Any]:
    """The staff figures for ``scope`` as plain values, in eight statements."""
    organ_rows = db.session.execute(
        sa.select(Organ.id, Organ.name).where(*scope.organs(Organ.id)).order_by(Organ.path)
    ).all()
    # Two passes over the case tables, by type, organ and state, then by month; each is
    # answered from the tables' (organ_id, state, created_at) index without reading the
    # cases. Grouping by all four at once returned a row per (type, organ, state, month),
    # some 10,000 at 100k cases, to fold in Python.
    states = sa.union_all(*_each_type(scope, lambda m: [
        m.organ_id.label("organ_id"), sa.type_coerce(m.state, sa.String()).label("state")])
    ).subquery("cases")
    by_type, by_organ, by_state = Counter(), Counter(), Counter()
    for case_type, organ_id, state, n in db.session.execute(
            sa.select(states.c.case_type, states.c.organ_id, states.c.state, sa.func.count())
            .group_by(states.c.case_type, states.c.organ_id, states.c.state)):
        by_type[case_type] += n
        by_organ[organ_id] += n
        by_state[(case_type, state)] += n
    months = sa.union_all(*_each_type(scope, lambda m: [
        local_month(m.created_at).label("month")])).subquery("cases")
    by_month = db.session.execute(
        sa.select(months.c.month, sa.func.count()).group_by(months.c.month)).all()

    categories = db.session.execute(
        sa.select(Organ.pack_id, Complaint.category_code, Complaint.finding, sa.func.count())
        .join(Organ, Organ.id == Complaint.organ_id).where(*scope.cases(Complaint))
        .group_by(Organ.pack_id, Complaint.category_code, Complaint.finding)).all()
    by_category: Counter = Counter()
    for pack_id, code, _finding, n in categories:
        by_category[(pack_id, code)] += n
    complaint_days = db.session.execute(_complaint_days(scope)).all()
    investigation_days = db.session.execute(_investigation_days(scope)).all()
    suspended = db.session.execute(
        sa.select(sa.func.count(Suspension.id)).where(
            *scope.organs(Suspension.organ_id), Suspension.state == SuspensionState.ACTIVE,
            Suspension.ends_at > now)).scalar_one()
    return {
        "organs": [[name, by_organ[organ_id]] for organ_id, name in organ_rows],
        "by_type": _pairs(by_type.items()),
        "by_state": [[*key, n] for key, n in by_state.items()],
        "by_month": _pairs(by_month),
        "categories": [[*key, n] for key, n in by_category.items()],
        "substantiated": [sum(n for *_k, finding, n in categories if finding in SUBSTANTIATED),
                          sum(n for *_k, finding, n in categories if finding is not None)],
        "complaint_days": [[int(days), n] for days, n in complaint_days],
        "investigation_days": [[int(days), n] for days, n in investigation_days],
        "overdue": list(_clock_counts(scope, now)),
        "suspended": suspended,
    }


def _first_notices(*conditions):
    """Complaints meeting ``conditions`` that were told their outcome, with when the first
    outcome notice was issued (``at``).

    A join grouped per complaint, the notices read from the (case_type, trigger, case_id,
    at) index of case_event, which holds all that is needed of them. With conditions, the
    notices are also narrowed to the ids of the complaints in scope (from the case
    table's organ index), so the planner never starts from every complaint's notice: a
    station's figures read a station's. (It used to aggregate the first notice of every
    complaint in the database, from the events' rows, before keeping those in scope.)"""
    notices = [CaseEvent.case_type == Complaint.case_type,
               CaseEvent.trigger == OUTCOME_TRIGGER, CaseEvent.case_id == Complaint.id]
    if conditions:
        notices.append(CaseEvent.case_id.in_(sa.select(Complaint.id).where(*conditions)))
    return (sa.select(Complaint.id, Complaint.organ_id, Complaint.finding,
                      Complaint.created_at, sa.func.min(CaseEvent.at).label("at"))
            .join(CaseEvent, sa.and_(*notices))
            .where(*conditions).group_by(Complaint.id).subquery("told"))


def _complaint_days(scope: Scope):
    told = _first_notices(*scope.cases(Complaint))
    days = sa.select(local_days_between(told.c.created_at, told.c.at).label("days")
                     ).subquery("d")
    return sa.select(days.c.days, sa.func.count()).group_by(days.c.days)


def _investigation_days(scope: Scope):
    days = (sa.select(local_days_between(Investigation.created_at,
                                         Investigation.concluded_at).label("days"))
            .where(*scope.cases(Investigation), Investigation.concluded_at.is_not(None))
            .subquery("d"))
    return sa.select(days.c.days, sa.func.count()).group_by(days.c.days)


def _clock_counts(scope: Scope, now: dt.datetime) -> tuple[int, int]:
    """(late, counted): clocks of cases in scope that were breached or are running past
    their due time, among those met, breached or running past due. Cancelled clocks,
    clocks still running within time and paused clocks (time a rule excludes, such as a
    hearing: their due date moves when they resume) are not counted."""
    past_due = sa.and_(CaseClock.due_at < now, CaseClock.paused_at.is_(None))
    counted = sa.select(CaseClock.outcome.label("outcome"), past_due.label("past_due"))
    if scope.date_from is None and scope.date_to is None:
        # Every clock of the subtree: a clock carries its case's organ, and the index
        # (outcome, organ_id, paused_at, due_at) holds all this reads.
        clocks = counted.where(*scope.organs(CaseClock.organ_id)).subquery("clocks")
    else:
        # Clocks of the cases created in the dates, per case type: the case ids come from
        # the case table's indexes and each case's clocks from (case_type, case_id).
        parts = []
        for name in registry.case_types():
            model = registry.binding_for(name).model
            parts.append(counted.where(CaseClock.case_type == name, CaseClock.case_id.in_(
                sa.select(model.id).where(*scope.cases(model)))))
        clocks = sa.union_all(*parts).subquery("clocks")
    late = counted = 0
    for outcome, is_past_due, n in db.session.execute(
            sa.select(clocks.c.outcome, clocks.c.past_due, sa.func.count())
            .group_by(clocks.c.outcome, clocks.c.past_due)):
        if outcome is ClockOutcome.BREACHED or (outcome is ClockOutcome.RUNNING
                                                and is_past_due):
            late += n
            counted += n
        elif outcome is ClockOutcome.MET:
            counted += n
    return late, counted


def _month_table(by_month: Counter) -> Table:
    months = months_between(min(by_month), max(by_month)) if by_month else []
    return _counted("month", _("按月份"), _("月份"), [(m, by_month[m]) for m in months],
                    note=_("按立案（提交）时间的北京时间自然月统计，含各类案件。"))


def _type_table(by_type: Counter) -> Table:
    return _counted("type", _("按案件类型"), _("案件类型"),
                    [(registry.spec_for(name).label, by_type[name])
                     for name in registry.case_types()])


def _category_label(pack_id: str, code: str) -> str:
    try:
        return get_packs()[pack_id].category(code).label
    except (KeyError, PolicyError):
        return code


def _category_table(rows) -> Table:
    counts: Counter = Counter()
    for pack_id, code, n in rows:
        counts[_category_label(pack_id, code)] += n
    # In the order of the packs in use (their lists follow the regulations), a label
    # shared by several packs once; a code no pack knows any more comes last.
    used = {pack_id for pack_id, *_rest in rows}
    known = list(dict.fromkeys(c.label for p in get_packs().values() if p.id in used
                               for c in p.categories))
    labels = [label for label in known if counts[label]] + sorted(set(counts) - set(known))
    return _counted("category", _("投诉按问题类别"), _("问题类别"),
                    [(label, counts[label]) for label in labels],
                    note=_("仅投诉举报；类别以受理机关适用的规定为准。"))


def _state_table(by_state: Counter) -> Table:
    rows = []
    for name in registry.case_types():
        spec = registry.spec_for(name)
        rows += [[spec.label, state.label, by_state[(name, state.value)]]
                 for state in spec.states if by_state[(name, state.value)]]
    return Table("state", _("按当前状态"), [_("案件类型"), _("状态"), _("件数")], rows)


def _handling_table(board: Dashboard) -> Table:
    rows = [[label, sum(hist.values()), days_text(percentile(hist, 0.5)),
             days_text(percentile(hist, 0.9))]
            for label, hist in ((_("投诉举报（立案至出具处理结果告知书）"), board.complaint_days),
                                (_("调查（立案至作出调查结论）"), board.investigation_days))]
    return Table("handling", _("办理时长"),
                 [_("案件"), _("已办结件数"), _("中位数（天）"), _("第90百分位（天）")], rows,
                 note=_("天数按北京时间自然日计算（当日不计）；百分位按线性插值。"))


def _rates_table(board: Dashboard) -> Table:
    late, counted = board.overdue
    found, with_finding = board.substantiated
    rows = [
        [_("超期率"), late, counted, rate_text(late, counted)],
        [_("查实率"), found, with_finding, rate_text(found, with_finding)],
        [_("回避申请准予"), board.recusals_granted, "", ""],
        [_("回避申请驳回（含复议维持）"), board.recusals_refused, "", ""],
        [_("当前暂停履职"), board.suspensions_active, "", ""],
    ]
    return Table("rates", _("比率与决定"), [_("指标"), _("数值"), _("基数"), _("比率")], rows,
                 note=_("超期率：范围内案件的法定期限中，已超期完成的与仍在计时但已过期限的，"
                        "占“按期完成、超期完成、计时中已过期限”三者之和的比例；已终止的期限和"
                        "仍在期限内计时的不计。查实率：认定属实或部分属实的投诉，占已作出认定的"
                        "投诉的比例。当前暂停履职：现处于暂停状态且期限未满的，不受日期范围限制。"))


# --- figures kept for a while --------------------------------------------------------------

#: The layout of the figures kept in ``stats_snapshot``: raise it whenever a ``*_figures``
#: function's result changes shape, and rows of another layout are counted again.
SNAPSHOT_FORMAT = 1
#: A kept row's ``read_at`` is brought up to date at most this often (a write).
READ_MARK_EVERY = dt.timedelta(hours=1)
#: ``refresh`` counts again the figures someone read within this…
WANTED_FOR = dt.timedelta(days=1)
#: …and drops those no one read within this.
DROPPED_AFTER = dt.timedelta(days=7)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recent:
    """Figures (``value``) as computed at ``at`` (UTC), which the pages show."""

    value: Any
    at: dt.datetime


class _Kept:
    """The figures this process used lately, least recently used first."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, Recent] = OrderedDict()
        self.lock = threading.Lock()


def _max_age() -> dt.timedelta:
    return dt.timedelta(seconds=current_app.config.get("STATS_CACHE_SECONDS", 0))


def _fresh(at: dt.datetime, now: dt.datetime) -> bool:
    # abs(): a clock set back must not keep figures longer either.
    return abs(now - at) < _max_age()


def recent(key: str, now: dt.datetime, count: Callable[[], Any],
           draw: Callable[[Any], Any]) -> Recent:
    """``draw(count())``: the figures named ``key`` as counted at most
    ``STATS_CACHE_SECONDS`` before ``now``, by this worker, another one or ``refresh``
    (0 counts every time and keeps nothing).

    A city bureau's figures read hundreds of thousands of rows at a million cases (1.6–8 s
    on the machines measured), however the statements are shaped, while they are read far
    more often than a few minutes' new cases change them. So what ``count()`` returns (plain
    values) is kept in ``stats_snapshot`` for every worker, and across restarts, and each
    worker also keeps what it drew (at most RECENT_ENTRIES, the least recently used dropped
    first), so a page kept fresh is drawn without a statement. ``key`` must name everything
    the figures depend on besides the data and the time. Two requests that miss at once both
    count: simpler than a lock held during the queries; the newer figures stay kept."""
    if _max_age() <= dt.timedelta(0):
        return Recent(draw(count()), now)
    kept = current_app.extensions.setdefault("oversight.stats", _Kept())
    with kept.lock:
        found = kept.entries.get(key)
        if found is not None and _fresh(found.at, now):
            kept.entries.move_to_end(key)
            return found
    row = db.session.execute(
        sa.select(StatsSnapshot.format, StatsSnapshot.computed_at, StatsSnapshot.read_at,
                  StatsSnapshot.figures).where(StatsSnapshot.key == key)).first()
    found = None
    if row is not None and row.format == SNAPSHOT_FORMAT and _fresh(row.computed_at, now):
        found = _drawn(key, row, draw)
        if found is not None and now - row.read_at >= READ_MARK_EVERY:
            _write(sa.update(StatsSnapshot).where(StatsSnapshot.key == key)
                   .values(read_at=now))
    if found is None:
        figures = count()
        found = Recent(draw(figures), now)
        insert = storage.dialect_insert(db.session)(StatsSnapshot).values(
            key=key, format=SNAPSHOT_FORMAT, computed_at=now, read_at=now,
            figures=_encoded(figures))
        # Figures counted earlier than those kept (a slower request, the refresher) do
        # not replace them.
        _write(insert.on_conflict_do_update(
            index_elements=[StatsSnapshot.key],
            set_={"format": insert.excluded.format, "computed_at": insert.excluded.computed_at,
                  "read_at": insert.excluded.read_at, "figures": insert.excluded.figures},
            where=StatsSnapshot.computed_at <= insert.excluded.computed_at))
    with kept.lock:
        kept.entries[key] = found
        kept.entries.move_to_end(key)
        while len(kept.entries) > RECENT_ENTRIES:
            kept.entries.popitem(last=False)
    return found


def _drawn(key: str, row, draw: Callable[[Any], Any]) -> Recent | None:
    """The kept figures drawn, or None (logged) when they cannot be: a row written by hand
    or by a release that changed their layout without raising SNAPSHOT_FORMAT. They are
    counted again and the row replaced, rather than the page failing."""
    try:
        return Recent(draw(json.loads(row.figures)), row.computed_at)
    except (ValueError, LookupError, TypeError):
        log.warning("kept statistics %s unreadable; counted again", key, exc_info=True)
        return None


def _encoded(figures: Any) -> str:
    return json.dumps(figures, ensure_ascii=False, separators=(",", ":"))


def _write(statement) -> None:
    """Run one write to ``stats_snapshot`` in a transaction of its own, apart from the
    request's (which only read). A failure (the database locked for longer than its busy
    timeout, a read-only replica) is logged, and the page is served all the same: the
    figures are counted again next time."""
    if storage.writing():
        # Inside a unit of work that holds SQLite's write lock, a second connection would
        # wait for it in vain; the figures are simply not kept.
        return
    try:
        with storage.write_intent(), db.engine.begin() as conn:
            conn.execute(statement)
    except sa.exc.DBAPIError:
        log.warning("statistics not kept", exc_info=True)


def _count_dashboard(key: str, now: dt.datetime) -> dict[str, Any] | None:
    scope = Scope.from_key(key)
    return None if scope is None else dashboard_figures(scope, now)


#: How each kind of kept figures (the key's first part) is counted again from its key:
#: (key, now) -> figures, or None when the key no longer names anything to count.
_COUNTERS: dict[str, Callable[[str, dt.datetime], Any]] = {
    "dashboard": _count_dashboard,
    "transparency": lambda _key, _now: transparency_figures(),
}


@dataclass
class Refreshed:
    counted: list[str] = field(default_factory=list)
    dropped: int = 0
    #: keys whose counting failed (logged); the others are counted all the same
    failed: list[str] = field(default_factory=list)


def refresh(now: dt.datetime, *, older_than: dt.timedelta | None = None) -> Refreshed:
    """Count again, ahead of the request, the kept figures someone read within WANTED_FOR
    that were counted ``older_than`` ago or more (half of ``STATS_CACHE_SECONDS`` unless
    given), oldest first; drop those no one read within DROPPED_AFTER, and those whose
    key names an organ no longer there. ``oversight refresh-stats`` runs it: run often
    enough, pages are served kept figures and never count.

    Each key is counted in a read transaction of its own, ended before the next, so a
    long pass holds back neither vacuum (PostgreSQL) nor a checkpoint (SQLite). Every
    key is stamped ``now``, the pass's start: older than the data it read, never newer."""
    older_than = _max_age() / 2 if older_than is None else older_than
    done = Refreshed()
    with storage.write_intent(), db.engine.begin() as conn:
        done.dropped = conn.execute(sa.delete(StatsSnapshot).where(
            StatsSnapshot.read_at < now - DROPPED_AFTER)).rowcount
    stale = sa.or_(StatsSnapshot.computed_at <= now - older_than,
                   StatsSnapshot.format != SNAPSHOT_FORMAT)
    keys = list(db.session.execute(
        sa.select(StatsSnapshot.key).where(StatsSnapshot.read_at >= now - WANTED_FOR, stale)
        .order_by(StatsSnapshot.computed_at)).scalars())
    db.session.commit()
    for key in keys:
        counter = _COUNTERS.get(key.split("|", 1)[0])
        try:
            figures = None if counter is None else counter(key, now)
        except sa.exc.SQLAlchemyError:
            log.exception("statistics %s not counted", key)
            db.session.rollback()
            done.failed.append(key)
            continue
        db.session.commit()  # the read transaction ends before the next key's
        if figures is None:
            _write(sa.delete(StatsSnapshot).where(StatsSnapshot.key == key))
            done.dropped += 1
            continue
        _write(sa.update(StatsSnapshot).where(
            StatsSnapshot.key == key, stale).values(
            format=SNAPSHOT_FORMAT, computed_at=now, figures=_encoded(figures)))
        done.counted.append(key)
    return done


def recent_dashboard(scope: Scope, now: dt.datetime) -> Recent:
    """``dashboard(scope, now)``, kept per ``scope.key``."""
    return recent(scope.key, now, lambda: dashboard_figures(scope, now), Dashboard.of)


def recent_transparency(now: dt.datetime) -> Recent:
    """``transparency()``, kept like the dashboard: the public figures are the same for
    everyone."""
    return recent("transparency", now, transparency_figures, public_rows)


# --- the public transparency page ----------------------------------------------------------


@dataclass(frozen=True)
class PublicOrgan:
    """An organ as the public figures name it: plain values, so that computed figures can
    be kept between requests (see ``recent``) without holding database objects."""

    full_name: str
    path: str


@dataclass
class PublicRow:
    """One organ in one quarter. Counts are exact here; the page suppresses them."""

    organ: PublicOrgan
    quarter: str
    received: int = 0
    concluded: int = 0
    substantiated: int = 0
    #: the median days from filing to the outcome notice; None (not published) when fewer
    #: than SMALL_COUNT complaints were concluded
    median: float | None = None

    @functools.cached_property  # once per computed figures, not on every page kept
    def shown(self) -> tuple[str, str, str, str, str]:
        """The row as published: organ, received, concluded, substantiated (small counts
        suppressed) and the median days."""
        return (self.organ.full_name, shown_count(self.received), shown_count(self.concluded),
                shown_count(self.substantiated), days_text(self.median))


def transparency() -> list[PublicRow]:
    """Complaints per organ and Beijing quarter: received (by filing date), concluded
    (outcome notice first issued that quarter), of those substantiated (属实 or 部分属实),
    and the median days from filing to that notice. Three statements, newest quarter
    first, organs in tree order."""
    return public_rows(transparency_figures())


def transparency_figures() -> list[list]:
    """``transparency()`` as plain values (see ``public_rows``): a row's handling days are
    kept as their median, all the page shows of them (at a million cases the histograms
    made the kept figures 760 kB, and drawing them took 80 ms)."""
    return [[r.organ.full_name, r.organ.path, r.quarter, r.received, r.concluded,
             r.substantiated, r.median] for r in _counted_public_rows()]


def public_rows(figures: list[list]) -> list[PublicRow]:
    """The rows ``transparency_figures()`` returned, just counted or as kept."""
    named: dict[str, PublicOrgan] = {}
    rows = []
    for full_name, path, *values in figures:
        rows.append(PublicRow(named.setdefault(path, PublicOrgan(full_name, path)), *values))
    return rows


def _counted_public_rows() -> list[PublicRow]:
    organs = {o.id: o for o in db.session.execute(sa.select(Organ)).scalars()}
    received = sa.select(Complaint.organ_id.label("organ_id"),
                         local_month(Complaint.created_at).label("month")).subquery("r")
    told = _first_notices()
    concluded = sa.select(
        told.c.organ_id, local_month(told.c.at).label("month"),
        told.c.finding.in_(SUBSTANTIATED).label("found"),
        local_days_between(told.c.created_at, told.c.at).label("days")).subquery("c")

    rows: dict[tuple[int, str], PublicRow] = {}
    days: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
    named: dict[int, PublicOrgan] = {}

    def row(organ_id: int, month: str) -> PublicRow:
        key = (organ_id, quarter_of(month))
        if key not in rows:
            if organ_id not in named:
                organ = organs[organ_id]
                named[organ_id] = PublicOrgan(organ.full_name, organ.path)
            rows[key] = PublicRow(named[organ_id], key[1])
        return rows[key]

    for organ_id, month, n in db.session.execute(
            sa.select(received.c.organ_id, received.c.month, sa.func.count())
            .group_by(received.c.organ_id, received.c.month)):
        row(organ_id, month).received += n
    for organ_id, month, found, handled, n in db.session.execute(
            sa.select(concluded.c.organ_id, concluded.c.month, concluded.c.found,
                      concluded.c.days, sa.func.count())
            .group_by(concluded.c.organ_id, concluded.c.month, concluded.c.found,
                      concluded.c.days)):
        target = row(organ_id, month)
        target.concluded += n
        target.substantiated += n if found else 0
        histogram = days[(organ_id, target.quarter)]
        histogram[int(handled)] = histogram.get(int(handled), 0) + n
    for key, target in rows.items():
        if target.concluded >= SMALL_COUNT:
            target.median = percentile(days[key], 0.5)
    return sorted(rows.values(), key=lambda r: (_desc(r.quarter), r.organ.path))


def _desc(quarter: str) -> tuple[int, int]:
    year, q = quarter.split("-Q")
    return -int(year), -int(q)


def quarter_label(quarter: str) -> str:
    year, q = quarter.split("-Q")
    return _("%(year)s年第%(quarter)s季度", year=year, quarter=q)


def transparency_table(rows: list[PublicRow]) -> Table:
    """The public figures with small counts suppressed, as shown and exported."""
    return Table("transparency", _("投诉办理情况"),
                 [_("季度"), _("机关"), _("收到投诉"), _("办结（已告知结果）"),
                  _("查实（属实或部分属实）"), _("办理时长中位数（天）")],
                 [[quarter_label(r.quarter), *r.shown] for r in rows])


def group_by_quarter(rows: list[PublicRow]) -> list[tuple[str, list[PublicRow]]]:
    grouped: dict[str, list[PublicRow]] = defaultdict(list)
    for r in rows:
        grouped[r.quarter].append(r)
    return list(grouped.items())
