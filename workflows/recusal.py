"""The recusal application (回避申请) case type as a state table.

A party to a matter (or their representative, as the pack allows) asks that an officer step
aside from it; the officer may also ask to step aside themselves (自行回避), and the organ
may order it (指令回避, opened directly as granted). The officer's organ decides within the
pack's limit. A refusal may be taken to 复议 once, within the pack's window. The matter
itself goes on while the application is decided: nothing here pauses it.
"""

from __future__ import annotations

import enum

from workflows.engine import CaseType, GuardContext, LabeledState, Transition, state_labels
from workflows.i18n import N_, translate
from workflows.roles import Role


@state_labels({
    "filed": (N_("待决定"), N_("已提交，等待决定")),
    "granted": (N_("准予回避"), N_("准予回避")),
    "denied": (N_("驳回申请"), N_("申请被驳回，可申请复议")),
    "reconsidering": (N_("复议中"), N_("复议中")),
    "denied_final": (N_("复议维持驳回"), N_("复议决定维持驳回")),
    "withdrawn": (N_("已撤回"), N_("已撤回")),
})
class RecusalState(LabeledState):
    FILED = "filed"
    GRANTED = "granted"
    DENIED = "denied"
    RECONSIDERING = "reconsidering"
    DENIED_FINAL = "denied_final"
    WITHDRAWN = "withdrawn"


class RecusalOrigin(enum.Enum):
    """How the application came in."""

    PUBLIC = "public"  # the web form, by the party or their representative
    ORAL = "oral"  # said in person, recorded by intake staff
    SELF = "self"  # the officer asked to step aside (自行回避)
    ORDERED = "ordered"  # the organ ordered it (指令回避)

    @property
    def label(self) -> str:
        return translate(_ORIGIN_LABELS[self.value])


_ORIGIN_LABELS = {
    "public": N_("当事人网上申请"),
    "oral": N_("口头申请（工作人员记录）"),
    "self": N_("辅警自行回避"),
    "ordered": N_("机关指令回避"),
}

#: Origins whose applicant holds an access code and tracks the case like a complainant.
TRACKED_ORIGINS = frozenset({RecusalOrigin.PUBLIC, RecusalOrigin.ORAL})

S = RecusalState


def _within_reconsideration_window(ctx: GuardContext) -> str | None:
    """复议 once, within the window that opened with the refusal notice."""
    deadline = getattr(ctx.case, "reconsider_deadline_at", None)
    if getattr(ctx.case, "reconsidered", False):
        return translate(N_("已申请过一次复议，复议决定为最终决定，不能再次申请"))
    if deadline is None or ctx.now > deadline:
        from workflows.clocks import to_local

        closed = to_local(deadline).strftime("%Y-%m-%d %H:%M") if deadline else "—"
        return translate(N_("申请复议的期限已于 %(date)s 届满，不能再申请复议")) % {
            "date": closed}
    return None


def _tracked_origin(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "origin", None) not in TRACKED_ORIGINS:
        return translate(N_("辅警自行回避或机关指令回避不适用复议"))
    return None


TRANSITIONS = (
    Transition("grant", N_("决定准予回避"), (S.FILED,), S.GRANTED, frozenset({Role.LEADER}),
               rule="recusal_applicants", notice="granted", stops=("recusal_decide",),
               needs=("reason", "earlier_acts"), public=True,
               help_text=N_("由辅警所在公安机关决定；须写明理由，并认定回避前已经作出的行为是否有效")),
    Transition("deny", N_("决定驳回申请"), (S.FILED,), S.DENIED, frozenset({Role.LEADER}),
               rule="recusal_applicants", notice="denied", stops=("recusal_decide",),
               needs=("reason",), public=True, style="danger",
               help_text=N_("须写明驳回理由；申请人可在收到决定后申请复议一次")),
    # Role.INTAKE records a 复议 asked for in person or by letter.
    Transition("request_reconsideration", N_("申请复议"), (S.DENIED, S.DENIED_FINAL),
               S.RECONSIDERING, frozenset({Role.PUBLIC, Role.INTAKE}),
               rule="recusal_applicants", needs=("reason",),
               guards=(_tracked_origin, _within_reconsideration_window),
               starts=("recusal_reconsider_answer",), public=True),
    Transition("grant_on_reconsideration", N_("复议决定准予回避"), (S.RECONSIDERING,),
               S.GRANTED, frozenset({Role.LEADER}), rule="recusal_applicants",
               notice="reconsideration", stops=("recusal_reconsider_answer",),
               needs=("reason", "earlier_acts"), public=True),
    Transition("deny_on_reconsideration", N_("复议维持驳回"), (S.RECONSIDERING,),
               S.DENIED_FINAL, frozenset({Role.LEADER}), rule="recusal_applicants",
               notice="reconsideration", stops=("recusal_reconsider_answer",),
               needs=("reason",), public=True, style="danger"),
    Transition("withdraw", N_("撤回申请"), (S.FILED,), S.WITHDRAWN,
               frozenset({Role.PUBLIC}), cancels=("recusal_decide",), public=True,
               style="danger"),
    Transition("add_note", N_("记录办理情况"), (S.FILED, S.RECONSIDERING), None,
               frozenset({Role.INTAKE, Role.INSPECTOR, Role.LEADER}), needs=("note",),
               style="secondary"),
)

RECUSAL = CaseType(
    name="recusal",
    title=N_("回避申请"),
    states=RecusalState,
    initial=S.FILED,
    transitions=TRANSITIONS,
    terminal=frozenset({S.GRANTED, S.DENIED_FINAL, S.WITHDRAWN}),
)

#: Clock started when an application is filed.
FILING_CLOCKS = ("recusal_decide",)
