"""Investigations and what follows them, for the scale seeder (``bench/seed_scale.py``):
the team and its evidence log, duty suspensions (automatic in Yunnan, requested and
decided elsewhere, lifted with the investigation, at their term or early, and appealed),
disciplinary decisions (statement and defence, approval, serving, execution with its
effect on the officer) and the officer's appeals against them. Also what every story
shares: ``Draft`` (a case being written, its events, clocks and notices following its state
table), the text banks and the time units.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import search_corpus as corpus

if TYPE_CHECKING:
    from seed_scale import Seeder

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
UTC = dt.UTC
#: Cases are created evenly over this many days before ``now``.
SPAN_DAYS = 730

# --------------------------------------------------------------------------- text banks

SUBJECTS = ["群众反映执勤中态度粗暴", "涉嫌违规收取费用", "执法记录仪未按规定使用",
            "脱离民警单独执法", "交通事故处理不公", "泄露当事人个人信息", "工作时间饮酒",
            "擅自扣押车辆", "接处警拖延推诿", "与当事人发生肢体冲突"]
EVIDENCE_TITLES = [("interview", "询问笔录（投诉人）"), ("interview", "询问笔录（当班民警）"),
                   ("interview", "询问笔录（被调查辅警）"), ("recorder", "执法记录仪视频"),
                   ("document", "勤务排班表"), ("document", "接处警记录"),
                   ("scene", "现场勘查照片"), ("other", "周边商户监控录像")]
NOTES = ["已联系投诉人核实情况", "已调取当日勤务安排", "已约谈当班民警了解情况",
         "投诉人补充提供了视频材料", "已向所在派出所调取值班记录", "等待监控录像导出"]
HANDLING = ["已对该辅警进行批评教育，责令其书面检查", "已责成所在单位加强辅警日常管理",
            "已向投诉人当面说明情况并致歉", "已将处理情况在单位内部通报"]
REASONS = ["经审查，情况属实", "依照规定办理", "事实清楚，证据充分", "经集体研究决定",
           "材料齐全，符合条件", "需进一步核实相关情况"]
REFUSAL = ["反映的事项不属于本机关职权范围", "同一事项已经依法处理完毕，未提出新的事实和理由",
           "反映的事项已进入诉讼程序"]
MATTERS = ["治安案件", "交通事故", "纠纷调解", "行政案件", "户籍业务"]
RECUSAL_FACTS = ["承办该案件的辅警与对方当事人系亲属关系", "该辅警曾与我方发生过冲突，担心处理不公",
                 "该辅警与本案有直接利害关系", "该辅警与对方当事人系同村邻居，往来密切"]
PAYEES = ["个体工商户", "出租车驾驶员", "外卖骑手", "小区业主", "货运公司", "餐饮店经营者"]
STATEMENTS = ["本人对拟处理意见无异议", "当时系制止违法行为，并非故意推搡",
              "请求考虑本人一贯表现从轻处理", "对认定的部分事实有异议，请求核实现场视频"]
SUPERVISE = ["该件已超过办理期限，请抓紧办理并报告进展", "请于期限内办结并书面回复",
             "群众反映强烈，请加快办理"]
ANSWERS = ["已完成调查取证，拟于近日办结", "已按要求办理完毕", "正在协调相关单位，预计本周内办结"]


#: Notice bodies: one sentence per kind, in the notices' plain shape.
NOTICE_LINES = {
    "acknowledgement": "本机关已依法受理，将在规定期限内办结并告知结果。",
    "refusal": "经审查，决定不予受理。",
    "transfer": "本机关已将您反映的问题转送有权处理的机关办理。",
    "merge": "您反映的问题已与同一事项合并办理。",
    "outcome": "现将调查核实情况和处理结果告知如下。",
    "review_decision": "经复查，现将复查意见告知如下。",
    "extension": "因情况复杂，经批准延长办理期限。",
    "recheck_decision": "经复核，现将复核意见告知如下。",
    "granted": "经审查，决定准予回避。",
    "denied": "经审查，决定驳回回避申请；不服的，可以申请复议一次。",
    "reconsideration": "经复议，现将复议决定告知如下。",
    "ordered": "本机关决定指令该辅警回避。",
    "decision": "决定暂停其履行职责。",
    "lifted": "决定恢复其履行职责。",
    "appeal_decision": "经审查，现将申诉决定告知如下。",
    "discipline_proposal": "拟对你作出处理，你可以在规定期限内陈述和申辩。",
    "discipline_decision": "决定对你作出如下处理。",
    "discipline_dropped": "决定不予处理。",
    "appeal_ruling": "经复查，现将申诉复查决定告知如下。",
    "recovery_proposal": "拟向你追偿部分赔偿费用，你可以在规定期限内陈述和申辩。",
    "recovery_order": "决定责令你承担部分赔偿费用。",
    "recovery_closed": "决定不予追偿。",
    "recovery_settled": "你应承担的赔偿费用已全部偿还。",
}


# --------------------------------------------------------------------------- one case

GENESIS = "0" * 64  # oversight.services.events.GENESIS


class Draft:
    """A case being written: its row, and its events, clocks and notices as they follow
    from the rows of its state table."""

    def __init__(self, seeder: Seeder, case_type: str, row: dict, organ: dict):
        self.s = seeder
        self.type = case_type
        self.spec = seeder.specs[case_type]
        self.row = row
        self.organ = organ
        self.pack = seeder.packs[organ["pack_id"]]
        self.events: list[dict] = []
        self.clocks: list[dict] = []
        self.notices: list[dict] = []
        self.last_at = row["created_at"]
        self.prev_hash = GENESIS
        self.accepted_at: dt.datetime | None = None

    @property
    def id(self) -> int:
        return self.row["id"]

    @property
    def state(self) -> str:
        return self.row["state"]

    def rule(self, key: str):
        if self.type == "recovery" and key == "recovery":
            key = self.row["rule_key"]
        return self.pack.rule(key)

    # -- the table's effects
    def _event(self, trigger: str, at: dt.datetime, actor: int | None, role, from_state: str,
               reason: str, article: str, payload: dict, public: bool) -> None:
        from oversight.services.events import compute_hash, redact

        at = max(at, self.last_at)
        if at > self.s.now:
            raise ValueError(f"{self.type} {self.row['number']}: {trigger} after now")
        self.last_at = at
        values = dict(case_type=self.type, case_id=self.id, seq=len(self.events) + 1, at=at,
                      actor_id=actor, actor_role=role, trigger=trigger, from_state=from_state,
                      to_state=self.row["state"], reason=reason or "", article=article or "",
                      payload=redact(payload or {}), public=public, prev_hash=self.prev_hash)
        values["hash"] = self.prev_hash = compute_hash(SimpleNamespace(**values))
        values["id"] = self.s.next_id("case_event")
        self.events.append(values)

    def _start(self, kind: str, at: dt.datetime) -> None:
        limit = self.pack.limit(kind)
        due = self.s.due(at, limit.amount, limit.unit.value)
        self.clocks.append({
            "id": self.s.next_id("case_clock"), "case_type": self.type, "case_id": self.id,
            "organ_id": self.row["organ_id"], "kind": kind, "started_at": at, "due_at": due,
            "base_due_at": due,
            "stopped_at": None, "outcome": "running", "amount": limit.amount,
            "unit": limit.unit.value, "citation": limit.citation.label, "extended_days": 0,
            "paused_at": None, "pauses": []})

    def running(self, kinds) -> list[dict]:
        return [c for c in self.clocks if c["outcome"] == "running" and c["kind"] in kinds]

    def _resume(self, clock: dict, at: dt.datetime) -> None:
        clock["due_at"] = clock["due_at"] + (at - clock["paused_at"])
        clock["pauses"] = [dict(p) for p in clock["pauses"]]
        clock["pauses"][-1]["to"] = at.isoformat()
        clock["paused_at"] = None

    def _clocks(self, t, at: dt.datetime, reason: str) -> None:
        for clock in self.running(t.stops):
            if clock["paused_at"] is not None:
                self._resume(clock, at)
            clock["stopped_at"] = at
            clock["outcome"] = "met" if at <= clock["due_at"] else "breached"
        for clock in self.running(t.cancels):
            clock["stopped_at"], clock["outcome"] = at, "cancelled"
        for clock in self.running(t.pauses):
            if clock["paused_at"] is None:
                clock["paused_at"] = at
                clock["pauses"] = [*clock["pauses"],
                                   {"from": at.isoformat(), "to": None, "reason": reason}]
        for clock in self.running(t.resumes):
            if clock["paused_at"] is not None:
                self._resume(clock, at)
        for kind in t.starts:
            self._start(kind, at)

    def _notice(self, kind: str, at: dt.datetime, article: str, reason: str) -> str:
        from oversight.services.notices import NOTICE_TITLES

        number = self.s.number("GZ", at)
        title = self.s.titles.get(kind)
        if title is None:
            title = self.s.titles[kind] = str(NOTICE_TITLES[kind])
        local = at.astimezone(self.s.tz)
        body = "\n".join([
            self.organ["full_name"], title, f"编号：{number}", "",
            f"案件编号：{self.row['number']}", NOTICE_LINES[kind],
            *([f"理由：{reason}"] if reason else []),
            f"依据：{article}" if article else "", "",
            self.organ["full_name"], f"{local:%Y-%m-%d}"]) + "\n"
        self.notices.append({
            "id": self.s.next_id("notice"), "number": number, "case_type": self.type,
            "case_id": self.id, "kind": kind, "title": title, "body": body, "issued_at": at,
            "issuer_organ_id": self.row["organ_id"], "public": True,
            "sha256": hashlib.sha256(body.encode()).hexdigest()})
        return number

    def open(self, trigger: str, at: dt.datetime, actor: int | None, role, rule: str, *,
             starts=(), notice: str | None = None, payload: dict | None = None,
             reason: str = "", public: bool = False) -> None:
        """The opening event (``workflow.open_case``): clocks, notice, event."""
        payload = dict(payload or {})
        for kind in starts:
            self._start(kind, at)
        article = self.rule(rule).citation.label
        if notice:
            payload["notice"] = self._notice(notice, at, article, reason)
        self._event(trigger, at, actor, role, "", reason, article, payload, public)

    def fire(self, trigger: str, at: dt.datetime, actor: int | None, role, *,
             payload: dict | None = None, reason: str = "") -> dt.datetime:
        """A row of the state table (``workflow.fire``); returns the time it happened."""
        t, sources, dest = self.s.move(self.type, trigger)
        from_state = self.row["state"]
        if from_state not in sources:
            raise ValueError(f"{self.type}: {trigger} from {from_state}")
        if role not in t.roles:
            raise ValueError(f"{self.type}: {trigger} by {role}")
        at = max(at, self.last_at)
        if dest is not None:
            self.row["state"] = dest
        self.row["updated_at"] = at
        self.row["version"] = self.row.get("version", 1) + 1
        self._clocks(t, at, reason)
        article = self.rule(t.rule).citation.label if t.rule else ""
        payload = dict(payload or {})
        if t.notice:
            payload["notice"] = self._notice(t.notice, at, article, reason)
        self._event(trigger, at, actor, role, from_state, reason, article, payload, t.public)
        return at

    def record(self, trigger: str, at: dt.datetime, actor: int, role, reason: str,
               payload: dict) -> None:
        """An event outside the table (a 督办 and its answer)."""
        self._event(trigger, at, actor, role, self.row["state"], reason, "", payload, False)


def roles():
    """``workflows.roles.Role``, imported when the stories start (after the app's)."""
    from workflows.roles import Role

    return Role


# --------------------------------------------------------------------------- the stories

class ChainStories:
    """An investigation and, as it goes, the suspension, decision and appeal it leads to.
    Mixed into ``seed_stories.StoryBook``, which provides ``s`` (the seeder), ``rng``,
    ``R`` (the roles), ``focused`` and ``officer_for``."""

    INVESTIGATION = {"assigned": 3, "investigating": 15, "clearance_pending": 3,
                     "violation_pending": 3, "cleared": 44, "violation": 32}
    #: Days a decision needs to reach each state (statement window, approval, serving).
    DECISION_DAYS = {"proposed": 0, "approved": 12, "served": 15, "executed": 20,
                     "dropped": 12, "revoked": 40}
    DISCIPLINE = {"proposed": 8, "approved": 5, "served": 10, "executed": 62, "dropped": 8,
                  "revoked": 2}
    APPEAL = {"filed": 15, "upheld": 45, "varied": 20, "revoked": 10, "withdrawn": 10}

    AGES_INV = {"assigned": (0, 20), "investigating": (2, 50), "clearance_pending": (20, 60),
                "violation_pending": (20, 60), "cleared": (40, SPAN_DAYS),
                "violation": (40, SPAN_DAYS)}

    def standalone_investigation(self, target: str, organ: dict | None, *,
                                 suspension: str | None = None, discipline: str | None = None,
                                 appeal: str | None = None, t0: dt.datetime | None = None
                                 ) -> None:
        s, rng = self.s, self.rng
        lo, hi = self.AGES_INV[target]
        if discipline:
            lo, hi = {"proposed": (45, 70), "approved": (50, 80), "served": (55, 85)}.get(
                discipline, (90, 720))
            if appeal:
                lo, hi = (70, 100) if appeal == "filed" else (100, 720)
        if suspension in ("requested", "active"):
            lo, hi = (2, 40)
        if self.focused:
            hi = max(lo + 1, min(hi, 330))
        organ = organ or s.any_organ()
        officer = s.officer_in(organ, free=True) if suspension else self.officer_for(organ)
        origin = "assigned" if target == "assigned" or (
            not discipline and rng.random() < 0.3) else "initiative"
        self.investigation(organ, officer, t0 or s.start_at(lo, hi), target, origin=origin,
                           suspension=suspension, discipline=discipline, appeal=appeal)

    def investigation(self, organ: dict, officer: dict | None, t: dt.datetime, target: str,
                      *, complaints: list[Draft] = (), origin: str = "complaint",
                      suspension: str | None = None, discipline: str | None = None,
                      appeal: str | None = None) -> Draft:
        s, rng, R = self.s, self.rng, self.R
        pack = s.packs[organ["pack_id"]]
        lead = s.staff(organ, "inspector")
        assistants: list[int] = []
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3)) if lead is not None else 0):
            more = s.staff(organ, "inspector", exclude=(lead, *assistants))
            if more is not None:
                assistants.append(more)
        assigned_by = s.organ_by_id[organ["chain"][1]] if origin == "assigned" and len(
            organ["chain"]) > 1 else None
        if origin == "assigned" and assigned_by is None:
            origin = "initiative"
        subject = (f"投诉 {complaints[0].row['number']} 反映的问题" if complaints
                   else rng.choice(SUBJECTS))
        row = {"number": s.number("DC", t), "state": "assigned" if origin == "assigned"
               else "investigating", "origin": origin,
               "assigned_by_organ_id": assigned_by["id"] if assigned_by else None,
               "officer_id": officer["id"] if officer else None, "subject": subject,
               "summary": complaints[0].row["narrative"] if complaints else
               f"{rng.choice(SUBJECTS)}，{rng.choice(NOTES)}。",
               "lead_id": None if origin == "assigned" else lead, "complaint_finding": None,
               "facts": "", "category_codes": [], "concluded_at": None, "clarification": "",
               "clarified_at": None, "created_at": t}
        inv = s.draft("investigation", organ, row)
        names = s.username
        payload: dict[str, Any] = {"origin": origin}
        if origin != "assigned":
            payload.update(lead=names.get(lead, ""), assistants=[names[a] for a in assistants])
            for a in assistants:
                s.add("investigation_member", {"investigation_id": inv.id, "user_id": a})
        if complaints:
            payload["complaints"] = [c.row["number"] for c in complaints]
        if officer is not None:
            payload["officer"] = officer["badge_no"]
        if assigned_by is not None:
            payload["assigned_by"] = assigned_by["name"]
        susp = None
        if officer is not None and pack.suspension_mandatory:
            susp = self._suspension(inv, officer, t, automatic=True, payload=payload)
        if origin == "assigned":
            upper = s.staff(assigned_by, "leader")
            inv.open("assign_down", t, upper, R.LEADER, "complaint_transfer", payload=payload)
        else:
            inv.open("open", t, lead, R.INSPECTOR, "complaint_channel", payload=payload)
        for c in complaints:
            c.fire("start_investigation", t, lead, R.INSPECTOR,
                   payload={"investigation": row["number"]})
            c.row["investigation_id"] = inv.id
        if target == "assigned":
            self._finish_suspension(susp, None)
            return inv
        if origin == "assigned":
            t = inv.fire("assign_team", s.later(t, 24, 24 * 10), s.staff(organ, "leader"),
                         R.LEADER, payload={"lead": names.get(lead, ""), "assistants": []})
            row["lead_id"] = lead
        for _ in range(rng.choice((1, 2, 2, 3, 4))):
            kind, title = rng.choice(EVIDENCE_TITLES)
            entry = {"id": s.next_id("evidence_entry"), "investigation_id": inv.id,
                     "kind": kind, "title": title, "description": rng.choice(NOTES),
                     "recorder_ref": f"DSJ-{rng.randint(1000, 9999)} {rng.randint(8, 20)}:00-"
                     f"{rng.randint(20, 23)}:30" if kind == "recorder" else "",
                     "added_by_id": lead, "added_at": None}
            t = inv.fire("add_evidence", s.later(t, 4, 24 * 6), lead, R.INSPECTOR,
                         payload={"evidence_id": entry["id"], "kind": kind, "title": title})
            entry["added_at"] = t
            s.add("evidence_entry", entry)
        wanted = suspension is not None or (not pack.suspension_mandatory
                                            and rng.random() < 0.12)
        if susp is None and officer is not None and wanted and s.remaining >= 1:
            susp = self._suspension(inv, officer, s.later(t, 2, 48), automatic=False)
            if susp is not None:
                inv.fire("request_suspension", susp.row["created_at"], susp.row["_by"],
                         R.INSPECTOR, reason=susp.row["reason"],
                         payload={"suspension": susp.row["number"]})
                t = self._decide_suspension(susp, suspension)
        if target == "investigating":
            self._finish_suspension(susp, None, want=suspension)
            return inv
        violation = target in ("violation_pending", "violation")
        cleared_findings = ("unsubstantiated", "unfounded")
        finding = rng.choice(("substantiated", "partly")) if violation else \
            rng.choice(cleared_findings)
        facts = rng.choice(corpus.FACTS).format(name=officer["name"] if officer else "该辅警",
                                                c=rng.choice(pack.categories).label)
        codes = sorted({c.code for c in rng.sample(pack.categories, rng.choice((1, 1, 2)))})
        trigger = "propose_violation" if violation else "propose_cleared"
        proposal = {"finding": finding, "facts": facts}
        if violation:
            proposal["categories"] = codes
        t = inv.fire(trigger, s.later(t, 24 * 5, 24 * 30), lead, R.INSPECTOR, payload=proposal)
        row.update(complaint_finding=finding, facts=facts, category_codes=codes if violation
                   else [])
        if target.endswith("_pending"):
            self._finish_suspension(susp, None, want=suspension)
            return inv
        leader = s.staff(organ, "leader")
        if rng.random() < 0.08:
            t = inv.fire("return_findings", s.later(t, 24, 24 * 5), leader, R.LEADER,
                         reason="证据不够充分，请补充调查")
            t = inv.fire(trigger, s.later(t, 24 * 3, 24 * 10), lead, R.INSPECTOR,
                         payload=proposal)
        t = s.later(t, 4, 24 * 6)
        row["concluded_at"] = t
        verdict = "查无实据" if finding == "unsubstantiated" else "不属实"
        handling = ("经调查，该辅警存在违规行为，本机关将依照规定对其作出处理。" if violation
                    else f"经调查，反映的问题{verdict}，对该辅警不予处理。")
        concluded = []
        for c in complaints:
            if c.state == "investigating":
                c.fire("conclude_by_investigation", t, None, R.SYSTEM,
                       payload={"finding": finding, "facts": facts, "handling": handling})
                c.row.update(finding=finding, facts=facts, handling=handling)
                concluded.append(c.row["number"])
        self._finish_suspension(susp, t, want=suspension)
        done = {"complaints": concluded} if concluded else {}
        if susp is not None:
            done["suspension_lifted" if susp.state == "lifted" else "suspension_lapsed"] = \
                susp.row["number"]
        inv.fire("approve_violation" if violation else "approve_cleared", t, leader, R.LEADER,
                 payload=done)
        if not violation and finding == "unfounded" and rng.random() < 0.3:
            text = "已在辖区公告栏及单位公众号公开澄清事实，为该辅警消除不良影响"
            at = inv.fire("record_clarification", s.later(t, 24, 24 * 20), leader, R.LEADER,
                          payload={"clarification": text})
            row.update(clarification=text, clarified_at=at)
        if violation and officer is not None and (discipline or rng.random() < 0.8):
            days = (s.now - t) / DAY  # what the time left allows
            target = discipline or s.pick({k: w for k, w in self.DISCIPLINE.items()
                                           if self.DECISION_DAYS[k] <= days} or {"proposed": 1})
            if target == "revoked":
                target, appeal = "served", "revoked"
            self.decision(inv, officer, s.later(t, 24, 24 * 8), target, appeal)
        return inv

    def _suspension(self, inv: Draft, officer: dict, t: dt.datetime, *, automatic: bool,
                    payload: dict | None = None) -> Draft | None:
        s, R = self.s, self.R
        if officer["id"] in s.held or s.remaining < 1:
            if payload is not None and officer["id"] in s.held:
                payload["suspension_existing"] = "TZ"
            return None
        limit = inv.pack.limit("suspension_max")
        row = {"number": s.number("TZ", t), "state": "active" if automatic else "requested",
               "officer_id": officer["id"], "investigation_id": inv.id,
               "automatic": automatic, "created_at": t,
               "reason": (f"因涉嫌违法违纪被调查（调查编号 {inv.row['number']}），"
                          "调查期间暂停履行职责") if automatic else
               "该辅警继续履职可能影响调查，申请暂停其履行职责",
               "started_at": t if automatic else None,
               "ends_at": s.due(t, limit.amount, limit.unit.value) if automatic else None,
               "ended_at": None, "appeal_text": "", "appeal_at": None, "appeal_outcome": None,
               "appeal_decided_at": None}
        susp = s.draft("suspension", inv.organ, row)
        s.held.add(officer["id"])
        if automatic:
            susp.open("suspend_automatically", t, None, R.SYSTEM, "suspension",
                      starts=("suspension_max",), notice="decision", reason=row["reason"],
                      payload={"investigation": inv.row["number"], "automatic": True})
            if payload is not None:
                payload["suspension"] = row["number"]
        else:
            row["_by"] = inv.row["lead_id"]
            susp.open("request", t, row["_by"], R.INSPECTOR, "suspension",
                      reason=row["reason"], payload={"investigation": inv.row["number"]})
        return susp

    def _decide_suspension(self, susp: Draft, want: str | None) -> dt.datetime:
        s, R = self.s, self.R
        t = susp.row["created_at"]
        leader = s.staff(susp.organ, "leader")
        if want == "requested":
            return t
        if want in ("refused",) or (want is None and self.rng.random() < 0.25):
            t = susp.fire("refuse", s.later(t, 4, 72), leader, R.LEADER,
                          reason="暂不需要暂停履职")
            s.held.discard(susp.row["officer_id"])
            return t
        t = susp.fire("approve", s.later(t, 4, 72), leader, R.LEADER)
        limit = susp.pack.limit("suspension_max")
        susp.row.update(started_at=t, ends_at=s.due(t, limit.amount, limit.unit.value))
        return t

    def _finish_suspension(self, susp: Draft | None, concluded: dt.datetime | None, *,
                           want: str | None = None) -> None:
        """The suspension's end: with the investigation, at its term, or early; and the
        officer's 申诉 against it."""
        if susp is None:
            return
        s, rng, R = self.s, self.rng, self.R
        row = susp.row
        if susp.state == "requested":
            if concluded is not None:
                susp.fire("lapse_request", concluded, None, R.SYSTEM,
                          reason="调查已办结，申请失效")
                s.held.discard(row["officer_id"])
            return
        if susp.state != "active":
            return
        end = concluded or s.now
        if want not in ("active", "requested") and concluded is None and rng.random() < 0.1:
            early = s.later(row["started_at"], 24 * 5, 24 * 40)
            if early < end:
                t = susp.fire("lift", early, s.staff(susp.organ, "leader"), R.LEADER,
                              reason="经审查，不再需要暂停履职")
                row["ended_at"] = t
        if susp.state == "active" and row["ends_at"] <= end:
            at = min(row["ends_at"] + dt.timedelta(hours=rng.uniform(0, 20)), s.now)
            row["ended_at"] = row["ends_at"]
            clock = next(iter(susp.running(("suspension_max",))))
            clock["stopped_at"], clock["outcome"] = row["ends_at"], "met"
            susp.fire("expire", at, None, R.SYSTEM,
                      payload={"ended_at": row["ends_at"].isoformat()})
        if susp.state == "active" and concluded is not None:
            t = susp.fire("lift_on_conclusion", concluded, None, R.SYSTEM,
                          reason="调查已办结，恢复履行职责")
            row["ended_at"] = t
        if susp.state != "active":
            s.held.discard(row["officer_id"])
        appeal = want == "revoked" or rng.random() < 0.06
        if appeal and susp.state in ("active", "lifted"):
            officer_user = s.account_of.get(row["officer_id"])
            who, role = (officer_user, R.OFFICER) if officer_user else (
                s.staff(susp.organ, "intake"), R.INTAKE)
            t = susp.fire("appeal", s.later(row["started_at"], 24, 24 * 10), who, role,
                          reason="本人未参与违规行为，暂停履职缺乏依据")
            row.update(appeal_text="本人未参与违规行为，暂停履职缺乏依据", appeal_at=t)
            leader = s.staff(susp.organ, "leader")
            if want == "revoked" or rng.random() < 0.2:
                t = susp.fire("revoke_on_appeal", s.later(t, 24, 24 * 15), leader, R.LEADER,
                              reason="经审查，暂停履职依据不足，予以撤销",
                              payload={"outcome": "revoked"})
                row.update(appeal_outcome="revoked", appeal_decided_at=t)
                row["ended_at"] = row["ended_at"] or t
                s.held.discard(row["officer_id"])
            elif rng.random() < 0.8:
                t = susp.fire("dismiss_appeal", s.later(t, 24, 24 * 15), leader, R.LEADER,
                              reason="暂停履职依据充分，维持", payload={"outcome": "upheld"})
                row.update(appeal_outcome="upheld", appeal_decided_at=t)

    def decision(self, inv: Draft, officer: dict, t: dt.datetime, target: str,
                 appeal: str | None) -> None:
        s, rng, R = self.s, self.rng, self.R
        if s.remaining < 1:
            return
        pack = inv.pack
        choices = [m for m in pack.measures
                   if not (m.effect == "demote" and officer["level"] <= 1)
                   and not (m.ends_employment and officer["employment"] == "ended")]
        if appeal == "varied":  # something lighter must remain to vary it to
            lightest = min(m.severity for m in pack.measures)
            choices = [m for m in choices if m.severity > lightest] or choices
        weights = [max(1, 40 - 8 * m.severity) for m in choices]
        measure = rng.choices(choices, weights)[0]
        ground = rng.choice(measure.grounds).code if measure.grounds else ""
        proposer = inv.row["lead_id"] or s.staff(inv.organ, "inspector")
        window = pack.limit("statement_window")
        row = {"number": s.number("CF", t), "state": "proposed", "officer_id": officer["id"],
               "investigation_id": inv.id, "proposed_measure_code": measure.code,
               "proposed_severity": measure.severity, "proposed_label": measure.label,
               "proposed_by_id": proposer, "measure_code": measure.code, "ground_code": ground,
               "facts": inv.row["facts"], "articles": "\n".join(
                   f"{c.label}：{c.citation.label}" for c in pack.categories
                   if c.code in inv.row["category_codes"]),
               "round": 1, "notified_at": t,
               "statement_due_at": s.due(t, window.amount, window.unit.value),
               "statement_text": "", "statement_at": None, "statement_in_person": False,
               "statement_waived": False, "approved_by_id": None, "paused": False,
               "created_at": t}
        d = s.draft("discipline", inv.organ, row)
        d.open("propose", t, proposer, R.INSPECTOR, "measures", notice="discipline_proposal",
               payload={"investigation": inv.row["number"], "measure": measure.code})
        account = s.account_of.get(officer["id"])
        r = rng.random()
        if r < 0.45:
            who, role = (account, R.OFFICER) if account else (proposer, R.INSPECTOR)
            text = rng.choice(STATEMENTS)
            at = d.fire("state_defence", s.later(t, 12, 24 * 4), who, role,
                        payload={"statement": text, "in_person": role is not R.OFFICER})
            row.update(statement_text=text, statement_at=at,
                       statement_in_person=role is not R.OFFICER)
        elif r < 0.6 and account:
            at = d.fire("waive_defence", s.later(t, 2, 24 * 3), account, R.OFFICER)
            row.update(statement_at=at, statement_waived=True)
        if target == "proposed":
            return
        heard = row["statement_at"] or row["statement_due_at"]
        if heard >= s.now:  # the officer may still state a defence: nothing to decide yet
            return
        t = s.later(max(heard, d.last_at), 4, 24 * 5)
        leader = s.staff(inv.organ, "leader", exclude=(proposer,))
        if target == "dropped":
            d.fire("drop", t, leader, R.LEADER, reason="违规情节轻微，经批评教育已改正")
            return
        lighter = [m for m in pack.measures if m.severity < measure.severity
                   and not m.grounds]
        final = rng.choice(lighter) if lighter and rng.random() < 0.2 and appeal != "varied" \
            else measure
        t = d.fire("approve", t, leader, R.LEADER, reason=rng.choice(REASONS),
                   payload={"measure": final.code,
                            "lighter": final.severity < measure.severity})
        row.update(measure_code=final.code, ground_code=ground if final is measure else "",
                   approved_by_id=leader, approved_at=t)
        if pack.suspension_mandatory and rng.random() < 0.2:
            d.fire("refer_supervisor", s.later(t, 2, 48), proposer, R.INSPECTOR,
                   reason="带领民警对该辅警疏于管理",
                   payload={"supervisor": "带班民警", "referred_to": "本局政治处"})
            row.update(supervisor_name="带班民警", referred_to="本局政治处",
                       referred_at=d.last_at)
        if target == "approved":
            return
        t = d.fire("serve", s.later(t, 4, 24 * 4), proposer, R.INSPECTOR)
        appeal_limit = pack.limit("appeal_window")
        row.update(served_at=t, appeal_due_at=s.due(t, appeal_limit.amount,
                                                    appeal_limit.unit.value))
        if target == "executed":
            t = self._execute(d, officer, final, s.later(t, 24, 24 * 10))
        if (appeal or rng.random() < 0.25) and s.remaining >= 1:
            days = (s.now - d.last_at) / DAY
            self.appeal(d, officer, appeal or s.pick(self.APPEAL if days > 40 else {"filed": 1}))

    def _execute(self, d: Draft, officer: dict, measure, t: dt.datetime) -> dt.datetime:
        row = d.row
        payload = {}
        union = None
        if measure.ends_employment:
            union = (t - self.rng.uniform(1, 5) * DAY).astimezone(self.s.tz).date()
        row["prior_level"], row["prior_employment"] = officer["level"], officer["employment"]
        if measure.effect == "demote":
            officer["level"] = max(1, officer["level"] - 1)
            officer["changed"] = True
        elif measure.ends_employment:
            officer["employment"] = "ended"
            officer["changed"] = True
        payload = {"level": officer["level"], "employment": officer["employment"]}
        t = d.fire("execute", t, row["proposed_by_id"], self.R.INSPECTOR, payload=payload)
        row.update(executed_at=t, union_notified_on=union)
        return t

    def appeal(self, decision: Draft, officer: dict, target: str) -> None:
        s, rng, R = self.s, self.rng, self.R
        drow = decision.row
        t = s.later(drow["served_at"], 24, 24 * 20)
        if t > drow["appeal_due_at"]:
            t = max(drow["appeal_due_at"] - dt.timedelta(hours=rng.uniform(1, 48)),
                    drow["served_at"])
        parent = s.organ_by_id.get(decision.organ["parent_id"]) or decision.organ
        account = s.account_of.get(officer["id"])
        if target == "withdrawn" and not account:
            target = "upheld"
        who, role = (account, R.OFFICER) if account else (
            s.staff(decision.organ, "intake"), R.INTAKE)
        grounds = "认为处理过重，且调查中未充分听取本人陈述，请求撤销或变更处理决定"
        row = {"number": s.number("SS", t), "state": "filed", "officer_id": officer["id"],
               "decision_id": decision.id, "grounds": grounds,
               "filed_in_person": role is not R.OFFICER, "reviewer_id": None,
               "pause_ordered": False, "varied_measure_code": "", "created_at": t}
        a = s.draft("appeal", parent, row)
        a.pack = decision.pack
        a.open("file", t, who, role, "appeal_right",
               payload={"decision": drow["number"]})
        approver = drow["approved_by_id"]
        reviewer = s.staff(parent, "leader", exclude=(approver,))
        if reviewer is not None and rng.random() < 0.3:
            t = a.fire("designate_reviewer", s.later(t, 4, 72), reviewer, R.LEADER,
                       payload={"reviewer": reviewer})
            row["reviewer_id"] = reviewer
        if decision.state in ("approved", "served") and target != "revoked" and \
                rng.random() < 0.15:
            t = a.fire("order_pause", s.later(t, 2, 48), reviewer, R.LEADER,
                       reason="申诉期间暂停执行")
            row["pause_ordered"] = True
            decision.fire("pause_on_appeal", t, None, R.SYSTEM,
                          payload={"reason": "申诉期间暂停执行"}, reason="申诉期间暂停执行")
            drow["paused"] = True
        if target == "filed":
            return
        t = s.later(max(t, decision.last_at), 24 * 3, 24 * 30)
        if target == "withdrawn":
            a.fire("withdraw", t, account, R.OFFICER)
            if drow["paused"]:
                decision.fire("resume_after_appeal", t, None, R.SYSTEM)
                drow["paused"] = False
            return
        a.row.update(decided_at=t, decided_by_id=reviewer)
        if target == "upheld":
            a.fire("uphold", t, reviewer, R.LEADER, reason="原处理决定事实清楚，处理适当")
            decision.fire("uphold_on_appeal", t, None, R.SYSTEM)
            drow["paused"] = False
            return
        if target == "varied":
            current = decision.pack.measure(drow["measure_code"])
            lighter = [m for m in decision.pack.measures if m.severity < current.severity
                       and not m.grounds]
            if not lighter:
                target = "revoked"
            else:
                measure = rng.choice(lighter)
                a.fire("vary", t, reviewer, R.LEADER, reason="原处理偏重，予以变更",
                       payload={"measure": measure.code})
                row["varied_measure_code"] = measure.code
                payload = {"from": drow["measure_code"], "measure": measure.code}
                if decision.state == "executed":
                    officer["level"], officer["employment"] = (drow["prior_level"],
                                                               drow["prior_employment"])
                    if measure.effect == "demote":
                        officer["level"] = max(1, officer["level"] - 1)
                    officer["changed"] = True
                    payload.update(level=officer["level"], employment=officer["employment"])
                decision.fire("vary_on_appeal", t, None, R.SYSTEM, payload=payload)
                drow.update(measure_code=measure.code, ground_code="", paused=False)
                return
        a.fire("revoke", t, reviewer, R.LEADER, reason="原处理决定认定事实不清，予以撤销")
        payload = {}
        if drow.get("executed_at") is not None:
            officer["level"], officer["employment"] = (drow["prior_level"],
                                                       drow["prior_employment"])
            officer["changed"] = True
            payload = {"level": officer["level"], "employment": officer["employment"]}
        decision.fire("revoke_on_appeal", t, None, R.SYSTEM, payload=payload)
        drow.update(revoked_at=t, paused=False)
