"""Compensation recovery (追偿) as a state table, and the rules that decide whether it is
mandatory.

After the organ compensates a third party for damage an officer caused in duty, it may (or
must) make the officer bear part or all of it, but only for intent (故意) or gross
negligence (重大过失). Where the pack says 应当 (省2021 第三十八条, 四川 第四十二条) an
order must follow a fault finding, and closing without one takes the waiver route: an
inspector proposes it with the article that allows it, a leader approves. Where it says 可以
(云南 第四十条) a leader may decline. Where it is silent, the national rule applies by the
basis of the payment: 国家赔偿法 第十六条 (应当) for state compensation, 民法典 第一千一百九十一条
(可以) for civil damages. Amounts are integer fen, never more than what was paid, and never
more than what the officer was told before stating a defence.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from workflows.discipline import statement_heard, statement_window_open
from workflows.engine import CaseType, GuardContext, LabeledState, Transition, state_labels
from workflows.i18n import N_, translate
from workflows.money import allocate
from workflows.roles import Role


@state_labels({
    "opened": (N_("待认定过错"), N_("待认定过错")),
    "no_fault": (N_("不予追偿（无故意或重大过失）"), N_("不予追偿")),
    "fault_found": (N_("已认定过错，待确定金额"), N_("已认定过错")),
    "proposed": (N_("已告知拟追偿金额"), N_("已告知拟追偿金额")),
    "waiver_pending": (N_("免予追偿待审批"), N_("审批中")),
    "waived": (N_("免予追偿"), N_("免予追偿")),
    "declined": (N_("决定不予追偿"), N_("不予追偿")),
    "ordered": (N_("已责令追偿，待安排偿还"), N_("已决定追偿")),
    "repaying": (N_("偿还中"), N_("偿还中")),
    "settled": (N_("已结清"), N_("已结清")),
})
class RecoveryState(LabeledState):
    OPENED = "opened"
    NO_FAULT = "no_fault"
    FAULT_FOUND = "fault_found"
    PROPOSED = "proposed"
    WAIVER_PENDING = "waiver_pending"
    WAIVED = "waived"
    DECLINED = "declined"
    ORDERED = "ordered"
    REPAYING = "repaying"
    SETTLED = "settled"


class Fault(enum.Enum):
    """The officer's fault for the damage. Only the first two allow recovery."""

    INTENT = "intent"
    GROSS_NEGLIGENCE = "gross_negligence"
    ORDINARY_NEGLIGENCE = "ordinary_negligence"
    NONE = "none"

    @property
    def label(self) -> str:
        return translate(_FAULT_LABELS[self.value])

    @property
    def allows_recovery(self) -> bool:
        return self in (Fault.INTENT, Fault.GROSS_NEGLIGENCE)


_FAULT_LABELS = {
    "intent": N_("故意"),
    "gross_negligence": N_("重大过失"),
    "ordinary_negligence": N_("一般过失"),
    "none": N_("无过错"),
}


class BasisKind(enum.Enum):
    """What the organ paid under."""

    STATE_COMPENSATION = "state_compensation"
    CIVIL_JUDGMENT = "civil_judgment"

    @property
    def label(self) -> str:
        return translate(_BASIS_LABELS[self.value])


_BASIS_LABELS = {
    "state_compensation": N_("国家赔偿决定"),
    "civil_judgment": N_("民事判决（调解书）"),
}


def recovery_rule_key(pack, basis: BasisKind) -> str:
    """The pack rule a recovery rests on: the local rule where the text has one; where it
    is silent, the national rule for what was paid (state compensation or civil damages)."""
    if pack.rule("recovery").fallback and basis is BasisKind.CIVIL_JUDGMENT:
        return "recovery_civil"
    return "recovery"


def is_mandatory(pack, basis: BasisKind) -> bool:
    """应当 (an order must follow a fault finding) or 可以 (a leader may decline)."""
    if recovery_rule_key(pack, basis) == "recovery_civil":
        return False  # 民法典 第一千一百九十一条: 可以
    return pack.recovery_mandatory


# --- instalments ------------------------------------------------------------------------


@dataclass(frozen=True)
class InstalmentStatus:
    seq: int
    due_on: dt.date
    amount: int
    covered: int

    @property
    def outstanding(self) -> int:
        return self.amount - self.covered

    def overdue(self, today: dt.date) -> bool:
        return self.outstanding > 0 and today > self.due_on


def instalment_status(instalments: Sequence[tuple[int, dt.date, int]], paid: int
                      ) -> list[InstalmentStatus]:
    """``instalments`` as (seq, due date, amount fen), paid oldest first."""
    ordered = sorted(instalments)
    covered = allocate([amount for _s, _d, amount in ordered], paid)
    return [InstalmentStatus(s, d, a, c) for (s, d, a), c in zip(ordered, covered, strict=True)]


# --- guards -------------------------------------------------------------------------------


def _fault_allows(allow: bool):
    def guard(ctx: GuardContext) -> str | None:
        code = str(ctx.data.get("fault") or "")
        fault = next((f for f in Fault if f.value == code), None)
        if fault is not None and fault.allows_recovery != allow:
            if allow:
                return translate(N_("只有故意或者重大过失才能追偿；"
                                    "一般过失或无过错的，应不予追偿"))
            return translate(N_("认定为故意或重大过失的，应当认定过错并追偿"))
        return None
    return guard


def _discretionary(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "mandatory", True):
        return translate(N_("本规定为“应当”追偿：不追偿须由督察提出免予追偿意见，"
                            "写明依据，报领导批准"))
    return None


def _fully_paid(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "outstanding_fen", 1) != 0:
        return translate(N_("尚未全部偿还"))
    return None


INSPECTORS = frozenset({Role.INSPECTOR})
LEADERS = frozenset({Role.LEADER})
S = RecoveryState

TRANSITIONS = (
    Transition("find_fault", N_("认定故意或重大过失"), (S.OPENED,), S.FAULT_FOUND, INSPECTORS,
               rule="recovery", needs=("fault", "facts"), guards=(_fault_allows(True),)),
    Transition("close_no_fault", N_("认定无故意或重大过失，不予追偿"), (S.OPENED,), S.NO_FAULT,
               LEADERS, rule="recovery", notice="recovery_closed", needs=("fault", "facts"),
               guards=(_fault_allows(False),), style="secondary"),
    Transition("propose_amount", N_("告知拟追偿金额"), (S.FAULT_FOUND,), S.PROPOSED, INSPECTORS,
               rule="recovery", notice="recovery_proposal", needs=("amount", "reason"),
               help_text=N_("金额不得超过已支付的赔偿金额；告知后辅警可在期限内陈述申辩")),
    Transition("state_defence", N_("提交陈述申辩"), (S.PROPOSED,), None,
               frozenset({Role.OFFICER, Role.INSPECTOR}), rule="officer_statement",
               needs=("statement",), guards=(statement_window_open,),
               help_text=N_("在期限内对拟追偿金额陈述事实和理由；陈述申辩不会导致追偿金额增加")),
    Transition("waive_defence", N_("放弃陈述申辩"), (S.PROPOSED,), None,
               frozenset({Role.OFFICER}), rule="officer_statement",
               guards=(statement_window_open,), style="secondary"),
    Transition("order", N_("决定追偿（责令承担）"), (S.PROPOSED,), S.ORDERED, LEADERS,
               rule="recovery", notice="recovery_order", needs=("amount", "reason"),
               guards=(statement_heard,), not_by_actor_of="propose_amount", style="danger",
               help_text=N_("可维持或减少告知的金额，不得增加")),
    Transition("propose_waiver", N_("提出免予追偿"), (S.FAULT_FOUND, S.PROPOSED),
               S.WAIVER_PENDING, INSPECTORS, rule="recovery",
               needs=("waiver_basis", "reason"), style="secondary",
               help_text=N_("写明不予追偿的理由及所依据的条款，报领导批准")),
    Transition("approve_waiver", N_("批准免予追偿"), (S.WAIVER_PENDING,), S.WAIVED, LEADERS,
               rule="recovery", notice="recovery_closed", needs=("reason",),
               not_by_actor_of="propose_waiver"),
    Transition("reject_waiver", N_("不批准免予追偿"), (S.WAIVER_PENDING,), S.FAULT_FOUND,
               LEADERS, rule="recovery", needs=("reason",), style="secondary"),
    Transition("decline", N_("决定不予追偿"), (S.FAULT_FOUND, S.PROPOSED), S.DECLINED, LEADERS,
               rule="recovery", notice="recovery_closed", needs=("reason",),
               guards=(_discretionary,), style="secondary"),
    Transition("plan", N_("确定偿还方式"), (S.ORDERED,), S.REPAYING,
               frozenset({Role.INSPECTOR, Role.LEADER}), rule="recovery",
               needs=("instalments", "first_due_on"), optional=("interval_months",),
               help_text=N_("一次性偿还填 1 期；分期的，各期金额精确到分，合计等于追偿金额")),
    Transition("record_payment", N_("登记还款"), (S.REPAYING,), None,
               frozenset({Role.INSPECTOR, Role.LEADER}), rule="recovery",
               needs=("amount", "paid_on"), optional=("note",), style="secondary"),
    Transition("settle", N_("全部偿还，结清"), (S.REPAYING,), S.SETTLED,
               frozenset({Role.SYSTEM}), rule="recovery", notice="recovery_settled",
               guards=(_fully_paid,)),
    Transition("add_note", N_("记录办理情况"),
               (S.OPENED, S.FAULT_FOUND, S.PROPOSED, S.WAIVER_PENDING, S.ORDERED, S.REPAYING),
               None, frozenset({Role.INSPECTOR, Role.LEADER}), needs=("note",),
               style="secondary"),
)


RECOVERY = CaseType(
    name="recovery",
    title=N_("追偿"),
    states=RecoveryState,
    initial=S.OPENED,
    transitions=TRANSITIONS,
    terminal=frozenset({S.NO_FAULT, S.WAIVED, S.DECLINED, S.SETTLED}),
    officer_party=True,
)
