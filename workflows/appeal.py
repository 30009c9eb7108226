"""The officer's appeal (申诉) against a disciplinary decision, as a state table.

The right comes from the pack (省2021 第十三条, 四川 第十四条, 云南 第二十一条; elsewhere
national practice). The officer files within the window that opened when the decision was
served. The upper organ reviews it, by a leader or a reviewer it designates, and never the
leader who approved the decision. The outcome upholds, varies (never to a heavier measure)
or revokes the decision; the decision is not paused meanwhile unless the reviewer orders it.
"""

from __future__ import annotations

from workflows.engine import CaseType, GuardContext, LabeledState, Transition, state_labels
from workflows.i18n import N_, translate
from workflows.roles import Role


@state_labels({
    "filed": (N_("待复查"), N_("已提出，等待复查")),
    "upheld": (N_("维持原处理"), N_("维持原处理")),
    "varied": (N_("变更处理"), N_("变更处理")),
    "revoked": (N_("撤销原处理"), N_("撤销原处理")),
    "withdrawn": (N_("已撤回"), N_("已撤回")),
})
class AppealState(LabeledState):
    FILED = "filed"
    UPHELD = "upheld"
    VARIED = "varied"
    REVOKED = "revoked"
    WITHDRAWN = "withdrawn"


S = AppealState
DECIDED = frozenset({S.UPHELD, S.VARIED, S.REVOKED})


def _reviewer(ctx: GuardContext) -> str | None:
    """Never the leader who approved the decision; the designated reviewer, if any."""
    decision = getattr(ctx.case, "decision", None)
    if ctx.actor_id is not None and decision is not None \
            and ctx.actor_id == getattr(decision, "approved_by_id", None):
        return translate(N_("原处理决定的批准人不能复查该申诉"))
    designated = getattr(ctx.case, "reviewer_id", None)
    if ctx.actor_id is not None and designated is not None and ctx.actor_id != designated:
        return translate(N_("本申诉已指定专人复查"))
    return None


def _designee_not_approver(ctx: GuardContext) -> str | None:
    decision = getattr(ctx.case, "decision", None)
    chosen = str(ctx.data.get("reviewer_id") or "")
    if decision is not None and chosen == str(getattr(decision, "approved_by_id", "")):
        return translate(N_("不能指定原处理决定的批准人复查"))
    return _reviewer(ctx) if getattr(ctx.case, "reviewer_id", None) is not None else None


def _pause_possible(ctx: GuardContext) -> str | None:
    decision = getattr(ctx.case, "decision", None)
    if getattr(ctx.case, "pause_ordered", False):
        return translate(N_("已决定申诉期间暂停执行"))
    if decision is not None and decision.state.value not in ("approved", "served"):
        return translate(N_("原处理决定已执行，不能再暂停执行"))
    return None


def _lighter(ctx: GuardContext) -> str | None:
    """An appeal never makes the measure heavier (申诉不加重)."""
    decision = getattr(ctx.case, "decision", None)
    code = str(ctx.data.get("measure_code") or "").strip()
    if decision is None or not code or ctx.pack is None:
        return None
    chosen = next((m for m in ctx.pack.measures if m.code == code), None)
    if chosen is not None and chosen.severity >= decision.measure.severity:
        return translate(N_("变更只能改为比原处理（%(measure)s）更轻的处理，申诉不加重")) % {
            "measure": decision.measure.label}
    return None


REVIEWERS = frozenset({Role.LEADER})

TRANSITIONS = (
    Transition("designate_reviewer", N_("指定复查人"), (S.FILED,), None, REVIEWERS,
               rule="appeal_right", needs=("reviewer_id",), guards=(_designee_not_approver,),
               style="secondary", help_text=N_("原处理决定的批准人不能担任复查人")),
    Transition("order_pause", N_("决定申诉期间暂停执行"), (S.FILED,), None, REVIEWERS,
               rule="appeal_right", needs=("reason",), guards=(_reviewer, _pause_possible),
               style="secondary",
               help_text=N_("申诉期间原则上不停止原处理决定的执行；确有必要的，可以决定暂停执行")),
    Transition("uphold", N_("复查决定：维持"), (S.FILED,), S.UPHELD, REVIEWERS,
               rule="appeal_right", notice="appeal_ruling", needs=("reason",),
               guards=(_reviewer,)),
    Transition("vary", N_("复查决定：变更"), (S.FILED,), S.VARIED, REVIEWERS,
               rule="appeal_right", notice="appeal_ruling", needs=("measure_code", "reason"),
               optional=("dismissal_ground",), guards=(_reviewer, _lighter), style="secondary",
               help_text=N_("只能变更为较轻的处理，申诉不加重")),
    Transition("revoke", N_("复查决定：撤销"), (S.FILED,), S.REVOKED, REVIEWERS,
               rule="appeal_right", notice="appeal_ruling", needs=("reason",),
               guards=(_reviewer,), style="danger",
               help_text=N_("撤销后恢复辅警的层级和聘用状态，并记录澄清")),
    Transition("withdraw", N_("撤回申诉"), (S.FILED,), S.WITHDRAWN,
               frozenset({Role.OFFICER}), rule="appeal_right", style="secondary"),
    Transition("add_note", N_("记录复查情况"), (S.FILED,), None,
               frozenset({Role.INSPECTOR, Role.LEADER}), needs=("note",), style="secondary"),
)

APPEAL = CaseType(
    name="appeal",
    title=N_("申诉"),
    states=AppealState,
    initial=S.FILED,
    transitions=TRANSITIONS,
    terminal=DECIDED | {S.WITHDRAWN},
    officer_party=True,
)
