"""The duty suspension (暂停履行职责) case type as a state table.

Where the pack makes suspension mandatory during an investigation (Yunnan 第三十二条) it
opens already active, by the system, when the investigation is opened. Elsewhere an
inspector requests it and a leader other than the requester approves it. It lasts no
longer than the pack's maximum, ends when the investigation concludes or a leader lifts it,
and the officer may file one 申诉, which is decided but never pauses the suspension.
The officer's duty status is derived from these records and stored nowhere else.
"""

from __future__ import annotations

from workflows.engine import CaseType, GuardContext, LabeledState, Transition, state_labels
from workflows.i18n import N_, translate
from workflows.roles import Role


@state_labels({
    "requested": (N_("待审批"), N_("待审批")),
    "active": (N_("暂停履职中"), N_("暂停履职中")),
    "refused": (N_("未批准"), N_("未批准")),
    "lifted": (N_("已解除"), N_("已解除")),
    "revoked": (N_("申诉后撤销"), N_("已撤销")),
})
class SuspensionState(LabeledState):
    REQUESTED = "requested"
    ACTIVE = "active"
    REFUSED = "refused"
    LIFTED = "lifted"
    REVOKED = "revoked"


S = SuspensionState
#: States that count as the officer's one open suspension (a unique index enforces it).
HOLDING_STATES = (S.REQUESTED, S.ACTIVE)


def _no_appeal_yet(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "appeal_at", None) is not None:
        return translate(N_("已对本次暂停履职提出过申诉"))
    return None


def _appeal_pending(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "appeal_at", None) is None:
        return translate(N_("辅警尚未提出申诉"))
    if getattr(ctx.case, "appeal_decided_at", None) is not None:
        return translate(N_("申诉已作出决定"))
    return None


TRANSITIONS = (
    Transition("approve", N_("批准暂停履职"), (S.REQUESTED,), S.ACTIVE,
               frozenset({Role.LEADER}), rule="suspension", notice="decision",
               starts=("suspension_max",), not_by_actor_of="request", style="danger"),
    Transition("refuse", N_("不予批准"), (S.REQUESTED,), S.REFUSED, frozenset({Role.LEADER}),
               rule="suspension", needs=("reason",), not_by_actor_of="request",
               style="secondary"),
    Transition("lift", N_("提前解除暂停履职"), (S.ACTIVE,), S.LIFTED, frozenset({Role.LEADER}),
               rule="suspension", notice="lifted", stops=("suspension_max",),
               needs=("reason",)),
    # The investigation concluded: the suspension ends with it (a request lapses).
    Transition("lift_on_conclusion", N_("调查终结，解除暂停履职"), (S.ACTIVE,), S.LIFTED,
               frozenset({Role.SYSTEM}), rule="suspension", notice="lifted",
               stops=("suspension_max",)),
    Transition("lapse_request", N_("调查终结，申请失效"), (S.REQUESTED,), S.REFUSED,
               frozenset({Role.SYSTEM}), rule="suspension"),
    Transition("expire", N_("期满自动解除"), (S.ACTIVE,), S.LIFTED, frozenset({Role.SYSTEM}),
               rule="suspension", notice="lifted", stops=("suspension_max",)),
    # Role.INTAKE records a 申诉 made in person.
    Transition("appeal", N_("提出申诉"), (S.ACTIVE, S.LIFTED), None,
               frozenset({Role.OFFICER, Role.INTAKE}), rule="appeal_right",
               needs=("reason",), guards=(_no_appeal_yet,),
               help_text=N_("申诉期间不停止暂停履职的执行")),
    Transition("dismiss_appeal", N_("申诉决定：维持"), (S.ACTIVE, S.LIFTED), None,
               frozenset({Role.LEADER}), rule="appeal_right", notice="appeal_decision",
               needs=("reason",), guards=(_appeal_pending,)),
    Transition("revoke_on_appeal", N_("申诉决定：撤销暂停履职"), (S.ACTIVE, S.LIFTED), S.REVOKED,
               frozenset({Role.LEADER}), rule="appeal_right", notice="appeal_decision",
               stops=("suspension_max",), needs=("reason",), guards=(_appeal_pending,),
               style="secondary"),
)

SUSPENSION = CaseType(
    name="suspension",
    title=N_("暂停履行职责"),
    states=SuspensionState,
    initial=S.REQUESTED,
    transitions=TRANSITIONS,
    terminal=frozenset({S.REFUSED, S.LIFTED, S.REVOKED}),
    officer_party=True,
)
