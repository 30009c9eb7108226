"""The investigation (调查) case type as a state table.

An investigation is opened from one or more accepted complaints, on the organ's own
initiative, or assigned down by an upper organ (交办), which leaves the team to the lower
organ's leader. One lead inspector and assistants keep an append-only evidence log; the
lead drafts findings and a leader approves them. The complaints linked to it then conclude
with its finding, the officer's suspension ends, and where the complaint proved untrue the
organ may record a public clarification (澄清) — prompted where the pack requires it.
"""

from __future__ import annotations

import enum

from workflows.engine import CaseType, GuardContext, LabeledState, Transition, state_labels
from workflows.i18n import N_, translate
from workflows.roles import Role


@state_labels({
    "assigned": (N_("已交办待分派"), N_("已交办")),
    "investigating": (N_("调查中"), N_("调查中")),
    "clearance_pending": (N_("拟不成立待审批"), N_("调查中")),
    "violation_pending": (N_("拟成立待审批"), N_("调查中")),
    "cleared": (N_("违规不成立"), N_("调查结束")),
    "violation": (N_("违规成立"), N_("调查结束")),
})
class InvestigationState(LabeledState):
    ASSIGNED = "assigned"
    INVESTIGATING = "investigating"
    CLEARANCE_PENDING = "clearance_pending"
    VIOLATION_PENDING = "violation_pending"
    CLEARED = "cleared"
    VIOLATION = "violation"


class InvestigationOrigin(enum.Enum):
    COMPLAINT = "complaint"  # opened from accepted complaints
    INITIATIVE = "initiative"  # the organ's own initiative (主动调查)
    ASSIGNED = "assigned"  # assigned down by an upper organ (交办)

    @property
    def label(self) -> str:
        return translate(_ORIGIN_LABELS[self.value])


_ORIGIN_LABELS = {
    "complaint": N_("由投诉举报立案"),
    "initiative": N_("本机关主动调查"),
    "assigned": N_("上级机关交办"),
}


class EvidenceKind(enum.Enum):
    DOCUMENT = "document"
    INTERVIEW = "interview"
    RECORDER = "recorder"  # 执法记录仪 footage, referenced by device and time
    SCENE = "scene"
    OTHER = "other"

    @property
    def label(self) -> str:
        return translate(_EVIDENCE_LABELS[self.value])


_EVIDENCE_LABELS = {
    "document": N_("书证材料"),
    "interview": N_("询问笔录"),
    "recorder": N_("执法记录仪视频"),
    "scene": N_("现场勘查"),
    "other": N_("其他"),
}


S = InvestigationState
OPEN_STATES = (S.INVESTIGATING, S.CLEARANCE_PENDING, S.VIOLATION_PENDING)
CONCLUDED = frozenset({S.CLEARED, S.VIOLATION})


def _on_team(ctx: GuardContext) -> str | None:
    """A member of the team, who has not declared a conflict with the officer or a
    complainant (a declaration made after joining takes them off the work at once)."""
    if ctx.actor_id is not None and ctx.actor_id not in getattr(ctx.case, "team_ids", ()):
        return translate(N_("只有本案调查组成员可以执行此操作"))
    if ctx.actor_id is not None and ctx.actor_id in getattr(ctx.case, "conflicted_ids", ()):
        return translate(N_("您已声明与本案存在利益冲突，不能参与办理；请报告领导调整调查组"))
    return None


def _is_lead(ctx: GuardContext) -> str | None:
    if ctx.actor_id is not None and ctx.actor_id != getattr(ctx.case, "lead_id", None):
        return translate(N_("调查结论由主办督察提出"))
    return None


def _no_clarification_yet(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "clarified_at", None) is not None:
        return translate(N_("已记录澄清情况"))
    return None


def _officer_known(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "officer_id", None) is None:
        return translate(N_("本案未确定被调查辅警，不能申请暂停履职"))
    return None


def _suspension_by_request(ctx: GuardContext) -> str | None:
    if ctx.pack is not None and ctx.pack.suspension_mandatory:
        return translate(N_("本地规定调查期间一律暂停履职，已在立案时自动暂停"))
    return None


TEAM = frozenset({Role.INSPECTOR})

TRANSITIONS = (
    Transition("assign_team", N_("分派调查组"), (S.ASSIGNED,), S.INVESTIGATING,
               frozenset({Role.LEADER}), rule="complaint_channel", needs=("lead_id",),
               optional=("assistant_ids",),
               help_text=N_("指定一名主办督察，可另指定协办人员；已声明利益冲突的人员不能指派")),
    Transition("change_team", N_("调整调查组"), OPEN_STATES, None, frozenset({Role.LEADER}),
               needs=("lead_id", "reason"), optional=("assistant_ids",), style="secondary"),
    Transition("add_evidence", N_("登记证据"), (S.INVESTIGATING,), None, TEAM,
               needs=("evidence_kind", "evidence_title"),
               optional=("evidence_description", "recorder_ref", "files"), guards=(_on_team,),
               style="secondary",
               help_text=N_("证据登记后不能删除，只能注明理由予以替代")),
    Transition("supersede_evidence", N_("替代证据记录"), (S.INVESTIGATING,), None, TEAM,
               needs=("evidence_id", "reason"), guards=(_on_team,), style="secondary"),
    Transition("request_suspension", N_("申请暂停履职"), OPEN_STATES, None, TEAM,
               rule="suspension", needs=("reason",),
               guards=(_on_team, _officer_known, _suspension_by_request), style="secondary",
               help_text=N_("报领导审批；期限不超过本地规定的最长期限")),
    Transition("propose_cleared", N_("提出调查结论：不成立"), (S.INVESTIGATING,),
               S.CLEARANCE_PENDING, TEAM, rule="complaint_channel",
               needs=("complaint_finding", "facts"), guards=(_on_team, _is_lead)),
    Transition("propose_violation", N_("提出调查结论：违规成立"), (S.INVESTIGATING,),
               S.VIOLATION_PENDING, TEAM, rule="measures",
               needs=("complaint_finding", "facts", "category_codes"), guards=(_on_team, _is_lead),
               style="danger"),
    Transition("approve_cleared", N_("批准：违规不成立"), (S.CLEARANCE_PENDING,), S.CLEARED,
               frozenset({Role.LEADER}), rule="complaint_channel",
               not_by_actor_of="propose_cleared"),
    Transition("approve_violation", N_("批准：违规成立"), (S.VIOLATION_PENDING,), S.VIOLATION,
               frozenset({Role.LEADER}), rule="measures", not_by_actor_of="propose_violation",
               style="danger"),
    Transition("return_findings", N_("退回补充调查"), (S.CLEARANCE_PENDING, S.VIOLATION_PENDING),
               S.INVESTIGATING, frozenset({Role.LEADER}), needs=("reason",), style="secondary"),
    Transition("record_clarification", N_("记录澄清正名"), (S.CLEARED,), None,
               frozenset({Role.INSPECTOR, Role.LEADER}), rule="clarification",
               needs=("clarification",), guards=(_no_clarification_yet,),
               help_text=N_("写明以何种方式、在何范围公开澄清事实、消除不良影响")),
    Transition("add_note", N_("记录调查情况"), (S.ASSIGNED,) + OPEN_STATES, None,
               frozenset({Role.INSPECTOR, Role.LEADER}), needs=("note",), style="secondary"),
)

INVESTIGATION = CaseType(
    name="investigation",
    title=N_("调查"),
    states=InvestigationState,
    initial=S.INVESTIGATING,
    transitions=TRANSITIONS,
    terminal=CONCLUDED,
)
