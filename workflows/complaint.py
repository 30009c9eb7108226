"""The complaint (投诉/检举/控告) case type as a state table.

Rule keys name entries of the organ's policy pack; clock keys name the pack's limits.
"""

from __future__ import annotations

import enum

from workflows.engine import CaseType, GuardContext, LabeledState, Transition, state_labels
from workflows.i18n import N_, translate
from workflows.roles import Role


@state_labels({
    "submitted": (N_("待受理"), N_("已提交，等待受理")),
    "refusal_pending": (N_("不予受理待审批"), N_("正在审查")),
    "not_accepted": (N_("不予受理"), N_("不予受理")),
    "accepted": (N_("已受理"), N_("已受理")),
    "transferred": (N_("已转办"), N_("已转有权处理的机关办理")),
    "merged": (N_("已合并"), N_("已与同一事项合并办理")),
    "investigating": (N_("调查中"), N_("正在调查核实")),
    "conclusion_pending": (N_("处理意见待审批"), N_("正在调查核实")),
    "concluded": (N_("已办结待告知"), N_("已办结，即将告知结果")),
    "notified": (N_("已告知结果"), N_("已告知处理结果")),
    "under_review": (N_("复查中"), N_("复查中")),
    "under_recheck": (N_("复核中"), N_("复核中")),
    "closed": (N_("已结案"), N_("已结案")),
    "withdrawn": (N_("已撤回"), N_("已撤回")),
})
class ComplaintState(LabeledState):
    SUBMITTED = "submitted"
    REFUSAL_PENDING = "refusal_pending"
    NOT_ACCEPTED = "not_accepted"
    ACCEPTED = "accepted"
    TRANSFERRED = "transferred"
    MERGED = "merged"
    INVESTIGATING = "investigating"
    CONCLUSION_PENDING = "conclusion_pending"
    CONCLUDED = "concluded"
    NOTIFIED = "notified"
    UNDER_REVIEW = "under_review"
    UNDER_RECHECK = "under_recheck"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class ComplaintKind(enum.Enum):
    COMPLAINT = "complaint"
    REPORT = "report"
    ACCUSATION = "accusation"

    @property
    def label(self) -> str:
        return translate(_KIND_LABELS[self.value])


_KIND_LABELS = {"complaint": N_("投诉"), "report": N_("检举"), "accusation": N_("控告")}


class Finding(enum.Enum):
    SUBSTANTIATED = "substantiated"
    PARTLY = "partly"
    UNSUBSTANTIATED = "unsubstantiated"
    UNFOUNDED = "unfounded"

    @property
    def label(self) -> str:
        return translate(_FINDING_LABELS[self.value])


_FINDING_LABELS = {
    "substantiated": N_("属实"),
    "partly": N_("部分属实"),
    "unsubstantiated": N_("查无实据"),
    "unfounded": N_("不属实"),
}


S = ComplaintState
OPEN_STATES = (S.SUBMITTED, S.REFUSAL_PENDING, S.ACCEPTED, S.INVESTIGATING,
               S.CONCLUSION_PENDING)
ALL_CLOCKS = ("acknowledge", "conclude", "review_answer", "recheck_answer")


def _within_review_window(ctx: GuardContext) -> str | None:
    deadline = getattr(ctx.case, "review_deadline_at", None)
    if deadline is None or ctx.now > deadline:
        return translate(N_("已超过申请复查的期限（收到处理结果告知书之日起30日内）"))
    return None


def _review_window_elapsed(ctx: GuardContext) -> str | None:
    deadline = getattr(ctx.case, "review_deadline_at", None)
    if deadline is not None and ctx.now <= deadline:
        return translate(N_("申请复查期限尚未届满，届满后方可结案"))
    return None


def _not_extended_yet(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "extended", False):
        return translate(N_("本案已延长过一次办理期限，不能再次延长"))
    return None


def _within_recheck_window(ctx: GuardContext) -> str | None:
    """复核 once, after a 复查 answer, within the window it opened (第三十六条)."""
    deadline = getattr(ctx.case, "recheck_deadline_at", None)
    if deadline is None:
        return translate(N_("只有对复查意见不服的，才能请求复核"))
    if getattr(ctx.case, "recheck_requested_at", None) is not None:
        return translate(N_("已请求过复核，复核意见为最终意见"))
    if ctx.now > deadline:
        from workflows.clocks import to_local

        return translate(N_("请求复核的期限已于 %(date)s 届满")) % {
            "date": to_local(deadline).strftime("%Y-%m-%d %H:%M")}
    return None


def _hearing(open_: bool):
    def guard(ctx: GuardContext) -> str | None:
        if bool(getattr(ctx.case, "hearing_open", False)) != open_:
            return translate(N_("听证尚未开始") if open_ else N_("听证正在进行"))
        return None
    return guard


def _not_yet_rated(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "rating", None) is not None:
        return translate(N_("已评价过本次办理"))
    return None


def _not_under_investigation(ctx: GuardContext) -> str | None:
    if getattr(ctx.case, "investigation_open", False):
        return translate(N_("本投诉已并入调查，结论随调查结论自动生成"))
    return None


def _other_organ(ctx: GuardContext) -> str | None:
    if str(ctx.data.get("target_organ_id")) == str(getattr(ctx.case, "organ_id", None)):
        return translate(N_("不能转办给本机关"))
    return None



TRANSITIONS = (
    Transition("accept", N_("受理"), (S.SUBMITTED,), S.ACCEPTED, frozenset({Role.INTAKE}),
               rule="complaint_channel", notice="acknowledgement",
               stops=("acknowledge",), starts=("conclude",), public=True),
    Transition("propose_refusal", N_("拟不予受理"), (S.SUBMITTED,), S.REFUSAL_PENDING,
               frozenset({Role.INTAKE}), rule="complaint_refusal", needs=("reason",),
               style="danger", help_text=N_("须写明理由，报领导审批")),
    Transition("approve_refusal", N_("批准不予受理"), (S.REFUSAL_PENDING,), S.NOT_ACCEPTED,
               frozenset({Role.LEADER}), rule="complaint_refusal", notice="refusal",
               stops=("acknowledge",), public=True, not_by_actor_of="propose_refusal",
               style="danger"),
    Transition("reject_refusal", N_("退回（应予受理）"), (S.REFUSAL_PENDING,), S.SUBMITTED,
               frozenset({Role.LEADER}), rule="complaint_channel", needs=("reason",)),
    Transition("transfer", N_("转办"), (S.SUBMITTED, S.ACCEPTED), S.TRANSFERRED,
               frozenset({Role.INTAKE}), rule="complaint_transfer", notice="transfer",
               cancels=ALL_CLOCKS, needs=("target_organ_id", "reason"),
               guards=(_other_organ,), public=True,
               help_text=N_("转至辅警所在单位办理，将在对方机关生成新案件")),
    Transition("merge", N_("合并到其他投诉"), (S.SUBMITTED, S.ACCEPTED), S.MERGED,
               frozenset({Role.INTAKE}), rule="complaint_channel", notice="merge",
               cancels=ALL_CLOCKS, needs=("target_number", "reason"), public=True),
    Transition("start_investigation", N_("开始调查"), (S.ACCEPTED,), S.INVESTIGATING,
               frozenset({Role.INSPECTOR}), rule="complaint_channel", public=True,
               optional=("investigation_number",),
               help_text=N_("立案调查：不填调查编号则新建调查并由您主办；"
                            "填写编号则并入同一事项的调查")),
    Transition("extend", N_("批准延长办理期限"), (S.ACCEPTED, S.INVESTIGATING,
                                                  S.CONCLUSION_PENDING), None,
               frozenset({Role.LEADER}), rule="complaint_extension", notice="extension",
               needs=("extension_days", "reason"), guards=(_not_extended_yet,), public=True,
               style="secondary",
               help_text=N_("情况复杂的可延长一次，不超过 30 日；延期理由将书面告知投诉人")),
    Transition("add_note", N_("记录调查情况"), (S.ACCEPTED, S.INVESTIGATING, S.UNDER_REVIEW,
                                           S.UNDER_RECHECK), None,
               frozenset({Role.INSPECTOR}), needs=("note",), optional=("files",),
               style="secondary"),
    Transition("propose_conclusion", N_("提出处理意见"), (S.ACCEPTED, S.INVESTIGATING),
               S.CONCLUSION_PENDING, frozenset({Role.INSPECTOR}), rule="complaint_channel",
               needs=("finding", "facts", "handling"),
               guards=(_not_under_investigation,)),
    Transition("approve_conclusion", N_("批准处理意见"), (S.CONCLUSION_PENDING,), S.CONCLUDED,
               frozenset({Role.LEADER}), rule="complaint_channel",
               not_by_actor_of="propose_conclusion"),
    Transition("return_conclusion", N_("退回补充调查"), (S.CONCLUSION_PENDING,), S.INVESTIGATING,
               frozenset({Role.LEADER}), needs=("reason",), style="secondary"),
    Transition("issue_notice", N_("出具处理结果告知书"), (S.CONCLUDED,), S.NOTIFIED,
               frozenset({Role.INTAKE, Role.INSPECTOR}), rule="complainant_told_result",
               notice="outcome", stops=("conclude",), public=True),
    Transition("request_review", N_("申请复查"), (S.NOTIFIED,), S.UNDER_REVIEW,
               frozenset({Role.PUBLIC}), rule="complaint_review", needs=("reason",),
               guards=(_within_review_window,), starts=("review_answer",), public=True),
    Transition("uphold_on_review", N_("复查维持原处理意见"), (S.UNDER_REVIEW,), S.CLOSED,
               frozenset({Role.LEADER}), rule="complaint_review", notice="review_decision",
               stops=("review_answer",), needs=("reason",), public=True),
    Transition("reopen_on_review", N_("复查后重新调查"), (S.UNDER_REVIEW,), S.INVESTIGATING,
               frozenset({Role.LEADER}), rule="complaint_review", notice="review_decision",
               stops=("review_answer",), starts=("conclude",), needs=("reason",),
               public=True, style="secondary"),
    # 复核 (第三十六条): after a 复查 answer, to the reviewing organ's upper organ.
    Transition("request_recheck", N_("请求复核"), (S.CLOSED,), S.UNDER_RECHECK,
               frozenset({Role.PUBLIC}), rule="complaint_recheck", needs=("reason",),
               guards=(_within_recheck_window,), starts=("recheck_answer",), public=True),
    Transition("start_hearing", N_("举行听证（暂停计时）"), (S.UNDER_RECHECK,), None,
               frozenset({Role.LEADER}), rule="complaint_recheck", needs=("reason",),
               pauses=("recheck_answer",), guards=(_hearing(False),), public=True,
               style="secondary", help_text=N_("听证所需时间不计算在复核期限内")),
    Transition("end_hearing", N_("听证结束（恢复计时）"), (S.UNDER_RECHECK,), None,
               frozenset({Role.LEADER}), rule="complaint_recheck",
               resumes=("recheck_answer",), guards=(_hearing(True),), public=True,
               style="secondary"),
    Transition("uphold_on_recheck", N_("复核维持"), (S.UNDER_RECHECK,), S.CLOSED,
               frozenset({Role.LEADER}), rule="complaint_recheck", notice="recheck_decision",
               stops=("recheck_answer",), needs=("reason",), guards=(_hearing(False),),
               public=True),
    Transition("reopen_on_recheck", N_("复核后重新调查"), (S.UNDER_RECHECK,), S.INVESTIGATING,
               frozenset({Role.LEADER}), rule="complaint_recheck", notice="recheck_decision",
               stops=("recheck_answer",), starts=("conclude",), needs=("reason",),
               guards=(_hearing(False),), public=True, style="secondary"),
    Transition("close", N_("结案"), (S.NOTIFIED,), S.CLOSED, frozenset({Role.INTAKE}),
               rule="complaint_review", guards=(_review_window_elapsed,), public=True),
    Transition("withdraw", N_("撤回投诉"), OPEN_STATES, S.WITHDRAWN, frozenset({Role.PUBLIC}),
               cancels=ALL_CLOCKS, public=True, style="danger"),
    Transition("add_material", N_("补充材料"), OPEN_STATES + (S.UNDER_REVIEW, S.UNDER_RECHECK),
               None,
               frozenset({Role.PUBLIC}), public=True, style="secondary"),
    Transition("rate", N_("评价办理"), (S.NOTIFIED, S.UNDER_REVIEW, S.UNDER_RECHECK, S.CLOSED),
               None,
               frozenset({Role.PUBLIC}), needs=("rating",), guards=(_not_yet_rated,),
               public=True, style="secondary"),
    # The investigation the complaint joined was concluded and approved: the complaint
    # takes its finding and moves on to the outcome notice.
    Transition("conclude_by_investigation", N_("依调查结论办结"), (S.INVESTIGATING,),
               S.CONCLUDED, frozenset({Role.SYSTEM}), rule="complaint_channel",
               needs=("finding", "facts", "handling")),
    # A merged complaint was promised the result of the case it joined: when that case's
    # outcome notice is issued, the system sends each merged complainant theirs.
    Transition("share_outcome", N_("告知合并办理结果"), (S.MERGED,), None,
               frozenset({Role.SYSTEM}), rule="complainant_told_result", notice="outcome",
               public=True),
)

COMPLAINT = CaseType(
    name="complaint",
    title=N_("投诉举报"),
    states=ComplaintState,
    initial=S.SUBMITTED,
    transitions=TRANSITIONS,
    terminal=frozenset({S.NOT_ACCEPTED, S.TRANSFERRED, S.MERGED, S.CLOSED, S.WITHDRAWN}),
)

#: Clock started when a complaint is filed (register and acknowledge).
FILING_CLOCKS = ("acknowledge",)
