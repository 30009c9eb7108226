"""The disciplinary decision (处理决定) case type as a state table.

An inspector proposes a measure from the pack's catalogue after an investigation found a
violation, and the officer is told (告知拟处理意见). The officer may state and defend
(陈述申辩) within the pack's window, on their portal or in person (recorded by staff). A
leader other than the proposer approves the same or a lighter measure: defending never
makes it heavier, unless new facts are recorded and the officer is told again (``revise``).
The approved decision is served (送达), which opens the appeal window, and is carried out:
a lower level, or the end of the employment (after the trade union was told, 劳动合同法
第四十三条). An appeal (申诉, its own case type) does not pause it unless the reviewer
orders a pause; a revoked or varied appeal reaches back here through the system rows.
"""

from __future__ import annotations

from workflows.engine import CaseType, GuardContext, LabeledState, Transition, state_labels
from workflows.i18n import N_, translate
from workflows.roles import Role


@state_labels({
    "proposed": (N_("已告知拟处理意见"), N_("已告知拟处理意见")),
    "approved": (N_("已批准，待送达"), N_("已批准")),
    "served": (N_("已送达，待执行"), N_("已送达")),
    "executed": (N_("已执行"), N_("已执行")),
    "dropped": (N_("不予处理"), N_("不予处理")),
    "revoked": (N_("申诉后撤销"), N_("已撤销")),
})
class DisciplineState(LabeledState):
    PROPOSED = "proposed"
    APPROVED = "approved"
    SERVED = "served"
    EXECUTED = "executed"
    DROPPED = "dropped"
    REVOKED = "revoked"


S = DisciplineState
#: States in which the decision stands (and an appeal may reach it).
STANDING = (S.APPROVED, S.SERVED, S.EXECUTED)


def _local(moment) -> str:
    from workflows.clocks import to_local

    return to_local(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def statement_window_open(ctx: GuardContext) -> str | None:
    """A statement is taken once per notification, within the window it opened."""
    if getattr(ctx.case, "statement_at", None) is not None:
        return translate(N_("本次告知的陈述申辩已提交（或已放弃）"))
    due = getattr(ctx.case, "statement_due_at", None)
    if due is None or ctx.now > due:
        return translate(N_("陈述申辩的期限已于 %(date)s 届满")) % {"date": _local(due)}
    return None


def statement_heard(ctx: GuardContext) -> str | None:
    due = getattr(ctx.case, "statement_due_at", None)
    if getattr(ctx.case, "statement_at", None) is None and due is not None and ctx.now <= due:
        return translate(N_("陈述申辩期限至 %(date)s；辅警提交陈述申辩、放弃或期满后方可审批")) \
            % {"date": _local(due)}
    return None


def _not_the_proposer(ctx: GuardContext) -> str | None:
    if ctx.actor_id is not None and ctx.actor_id == getattr(ctx.case, "proposed_by_id", None):
        return translate(N_("提出拟处理意见的人员不能审批该意见"))
    return None


def _not_heavier(ctx: GuardContext) -> str | None:
    """Never heavier than what the officer was told and could answer."""
    code = str(ctx.data.get("measure_code") or "").strip()
    if not code or ctx.pack is None:
        return None
    measure = next((m for m in ctx.pack.measures if m.code == code), None)
    proposed = getattr(ctx.case, "proposed_severity", None)
    if measure is not None and proposed is not None and measure.severity > proposed:
        return translate(N_("不得作出重于告知的拟处理意见（%(proposed)s）的处理；如有新的事实，"
                            "须先补充事实并重新告知辅警")) % {
            "proposed": getattr(ctx.case, "proposed_label", "")}
    return None


def _not_paused(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "paused", False):
        return translate(N_("申诉复查机关已决定申诉期间暂停执行"))
    return None


def _no_referral_yet(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "referred_at", None) is not None:
        return translate(N_("已移送带领民警的管理责任"))
    return None


STAFF = frozenset({Role.INSPECTOR, Role.LEADER})

TRANSITIONS = (
    # The officer's statement and defence, or staff recording one made in person.
    Transition("state_defence", N_("提交陈述申辩"), (S.PROPOSED,), None,
               frozenset({Role.OFFICER, Role.INSPECTOR}), rule="officer_statement",
               needs=("statement",), guards=(statement_window_open,),
               help_text=N_("在期限内对拟处理意见陈述事实、理由和证据；陈述申辩不会导致更重的处理")),
    Transition("waive_defence", N_("放弃陈述申辩"), (S.PROPOSED,), None,
               frozenset({Role.OFFICER}), rule="officer_statement",
               guards=(statement_window_open,), style="secondary"),
    Transition("revise", N_("补充事实并重新告知"), (S.PROPOSED,), None,
               frozenset({Role.INSPECTOR}), rule="officer_statement", notice="discipline_proposal",
               needs=("new_facts", "measure_code"), optional=("dismissal_ground",),
               style="secondary",
               help_text=N_("有新的事实的，写明新事实并重新告知辅警，辅警可重新陈述申辩")),
    Transition("approve", N_("批准处理决定"), (S.PROPOSED,), S.APPROVED,
               frozenset({Role.LEADER}), rule="measures", notice="discipline_decision",
               needs=("measure_code", "reason"), optional=("dismissal_ground",),
               guards=(statement_heard, _not_the_proposer, _not_heavier), style="danger",
               help_text=N_("可维持或减轻拟处理意见，不得加重；审批人不能是提出人")),
    Transition("drop", N_("决定不予处理"), (S.PROPOSED,), S.DROPPED, frozenset({Role.LEADER}),
               rule="measures", notice="discipline_dropped", needs=("reason",),
               guards=(_not_the_proposer,), style="secondary"),
    Transition("serve", N_("登记送达"), (S.APPROVED,), S.SERVED, STAFF, rule="appeal_right",
               optional=("reason",),
               help_text=N_("送达之日起计算申诉期限")),
    Transition("execute", N_("执行处理决定"), (S.SERVED,), S.EXECUTED, STAFF,
               rule="measures", optional=("union_notified_on", "reason"),
               guards=(_not_paused,),
               help_text=N_("降低层级的调整辅警层级；解除劳动合同、不予留用的终止聘用，须已事先通知工会")),
    Transition("refer_supervisor", N_("移送带领民警管理责任"), (S.PROPOSED,) + STANDING, None,
               STAFF, rule="supervisor_referral",
               needs=("supervisor_name", "referred_to", "reason"),
               guards=(_no_referral_yet,), style="secondary",
               help_text=N_("指挥或者带领该辅警履职的民警存在管理失职的，写明民警及移送机关")),
    # An appeal's decision reaches the decision through these rows (fired by the system).
    Transition("pause_on_appeal", N_("申诉期间暂停执行"), (S.APPROVED, S.SERVED), None,
               frozenset({Role.SYSTEM}), rule="appeal_right"),
    Transition("vary_on_appeal", N_("申诉变更处理"), STANDING, None,
               frozenset({Role.SYSTEM}), rule="appeal_right", needs=("measure_code",)),
    Transition("uphold_on_appeal", N_("申诉维持原处理"), STANDING, None,
               frozenset({Role.SYSTEM}), rule="appeal_right"),
    Transition("revoke_on_appeal", N_("申诉撤销处理决定"), STANDING, S.REVOKED,
               frozenset({Role.SYSTEM}), rule="appeal_right"),
    Transition("resume_after_appeal", N_("申诉撤回，恢复执行"), STANDING, None,
               frozenset({Role.SYSTEM}), rule="appeal_right"),
    Transition("add_note", N_("记录办理情况"), (S.PROPOSED,) + STANDING, None, STAFF,
               needs=("note",), style="secondary"),
)

DISCIPLINE = CaseType(
    name="discipline",
    title=N_("处理决定"),
    states=DisciplineState,
    initial=S.PROPOSED,
    transitions=TRANSITIONS,
    terminal=frozenset({S.EXECUTED, S.DROPPED, S.REVOKED}),
    officer_party=True,
)
