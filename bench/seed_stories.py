"""The stories of the scale seeder (``bench/seed_scale.py``): what the next case is and
how it got to its state. Complaints (accepted, refused, transferred, merged, investigated,
concluded, told, reviewed, rechecked with hearings, rated, withdrawn), recusal
applications by their four routes, compensation recoveries with instalments and payments,
and 督办 on overdue cases. Investigations and what follows them are ``seed_chains``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import search_corpus as corpus
from seed_chains import (
    ANSWERS,
    DAY,
    HANDLING,
    HOUR,
    MATTERS,
    NOTES,
    PAYEES,
    RECUSAL_FACTS,
    REFUSAL,
    SPAN_DAYS,
    STATEMENTS,
    SUPERVISE,
    UTC,
    ChainStories,
    Draft,
    roles,
)

if TYPE_CHECKING:
    from seed_scale import Seeder


class StoryBook(ChainStories):
    """How cases come to be and move on, one case type (and what it leads to) at a time."""

    #: What the next story is about, and how often (the rest follows from these).
    MIX = {"complaint": 80, "recusal": 10, "investigation": 3, "recovery": 7}
    COMPLAINT = {"submitted": 4, "refusal_pending": 1, "not_accepted": 6, "accepted": 7,
                 "transferred": 3, "merged": 2, "investigating": 6, "conclusion_pending": 2,
                 "concluded": 2, "notified": 5, "under_review": 1.5, "under_recheck": 0.5,
                 "closed": 55, "withdrawn": 4}
    RECUSAL = {"filed": 2, "granted": 55, "denied": 12, "reconsidering": 1,
               "denied_final": 8, "withdrawn": 5}
    RECOVERY = {"opened": 8, "no_fault": 15, "fault_found": 6, "proposed": 8,
                "waiver_pending": 3, "waived": 8, "declined": 8, "ordered": 6,
                "repaying": 15, "settled": 23}
    OPEN_COMPLAINT = ("submitted", "refusal_pending", "accepted", "investigating",
                      "conclusion_pending")

    def __init__(self, seeder: Seeder):
        self.s = seeder
        self.rng = seeder.rng
        self.R = roles()
        self.focused = False
        self.declared = False  # the demo organ's conflict declaration, once per run

    def age(self, lo: float, hi: float) -> dt.datetime:
        """A story's start, ``lo`` to ``hi`` days ago; the demo organ's within a year, so
        its flags and deadlines stay current."""
        if self.focused:
            hi = max(lo, min(hi, 330))
        return self.s.start_at(lo, hi)

    def officer_for(self, organ: dict) -> dict:
        """The demo officer for the demo organ's stories (their portal shows every kind of
        matter), anyone in the organ otherwise."""
        if self.focused and self.s.focus_officer is not None:
            return self.s.focus_officer
        return self.s.officer_in(organ)

    def coverage(self) -> list[tuple[str, str]]:
        return [(name, state.value) for name, spec in self.s.specs.items()
                for state in spec.states]

    def draw(self) -> tuple[str, str, dt.datetime]:
        """The next story: its case type, when it began (evenly over ``SPAN_DAYS``) and the
        state it has reached, among those a case of that age can plausibly be in (a week
        old complaint is not closed, a year old one is rarely still open)."""
        kind = self.s.pick(self.MIX)
        weights, ages = {"complaint": (self.COMPLAINT, self.AGES),
                         "recusal": (self.RECUSAL, self.AGES_RECUSAL),
                         "investigation": (self.INVESTIGATION, self.AGES_INV),
                         "recovery": (self.RECOVERY, self.AGES_RECOVERY)}[kind]
        age = self.rng.uniform(0, SPAN_DAYS)
        fits = {k: w for k, w in weights.items() if ages[k][0] <= age <= ages[k][1]}
        target = self.s.pick(fits) if fits else min(weights, key=lambda k: ages[k][0])
        return kind, target, self.s.now - age * DAY

    def tell(self, case_type: str, target: str, focus: bool = False,
             t0: dt.datetime | None = None) -> None:
        organ = self.s.organs[self.s.focus] if focus else None
        self.focused = focus
        if case_type == "complaint":
            self.complaint(target, organ, t0=t0)
        elif case_type == "recusal":
            self.recusal(target, organ, t0=t0)
        elif case_type == "recovery":
            self.recovery(target, organ, t0=t0)
        elif case_type == "investigation":
            self.standalone_investigation(target, organ, t0=t0)
        elif case_type == "suspension":
            self.standalone_investigation("investigating" if target in (
                "requested", "active") else "cleared", organ, suspension=target)
        elif case_type == "discipline":
            self.standalone_investigation("violation", organ, discipline=target)
        elif case_type == "appeal":
            station = organ
            if organ is not None and organ["children"]:
                station = self.s.organ_by_id[organ["children"][0]]
            self.standalone_investigation(
                "violation", station, discipline=self.rng.choice(("served", "executed"))
                if target != "revoked" else "served", appeal=target)

    # ---- complaints
    #: How many days ago a case in each state began: the least its steps need, and the
    #: most it plausibly stays there.
    AGES = {"submitted": (0, 18), "refusal_pending": (1, 22), "not_accepted": (3, SPAN_DAYS),
            "accepted": (2, 75), "transferred": (2, SPAN_DAYS), "merged": (1, SPAN_DAYS),
            "investigating": (3, 90), "conclusion_pending": (8, 80), "concluded": (15, 90),
            "notified": (20, 95), "under_review": (45, 120), "under_recheck": (110, 190),
            "closed": (100, SPAN_DAYS), "withdrawn": (1, SPAN_DAYS)}
    AGES_RECUSAL = {"filed": (0, 3), "granted": (1, SPAN_DAYS), "denied": (8, SPAN_DAYS),
                     "reconsidering": (6, 14), "denied_final": (10, SPAN_DAYS),
                     "withdrawn": (1, SPAN_DAYS)}

    def complaint(self, target: str, organ: dict | None = None, *,
                  t0: dt.datetime | None = None, transferred_from: Draft | None = None
                  ) -> Draft:
        """A complaint filed at ``t0`` (or as long ago as ``target`` needs), in ``organ``
        (or one drawn like the search corpus's), taken to ``target``; a transfer's new
        complaint when ``transferred_from`` is the one that was transferred."""
        s, rng, R = self.s, self.rng, self.R
        if t0 is None:
            t0 = self.age(*self.AGES[target])
        text = s.texts.complaint(organ["code"] if organ else None, t0)
        organ = s.organ_by_id[text["organ_id"]]
        officer = s.officers.get(text["officer_id"]) if text["officer_id"] else None
        if self.focused and s.focus_officer is not None and transferred_from is None:
            officer = s.focus_officer
            text.update(officer_id=officer["id"], officer_badge_text=officer["badge_no"])
        pack = s.packs[organ["pack_id"]]
        category = text["category_code"]
        if transferred_from is not None:
            source = transferred_from.row
            codes = {c.code for c in pack.categories}
            category = source["category_code"] if source["category_code"] in codes else "other"
        row = {"number": s.number("TS", t0), "state": "submitted", "kind": text["kind"],
               "anonymous": text["anonymous"], "category_code": category,
               "officer_id": officer["id"] if officer else None,
               "officer_badge_text": text["officer_badge_text"],
               "officer_description": text["officer_description"],
               "incident_at": text["incident_at"], "incident_place": text["incident_place"],
               "narrative": text["narrative"],
               "access_code_hash": f"sha256${rng.getrandbits(64):016x}$"
                                   f"{rng.getrandbits(256):064x}",
               "submission_key_hash": None, "finding": None, "facts": "", "handling": "",
               "created_at": t0}
        d = s.draft("complaint", organ, row)
        if transferred_from is not None:
            row["transferred_from_id"] = transferred_from.id
            row.update({k: transferred_from.row[k] for k in (
                "kind", "anonymous", "officer_id", "officer_badge_text", "officer_description",
                "incident_at", "incident_place", "narrative", "access_code_hash")})
            officer = s.officers.get(row["officer_id"]) if row["officer_id"] else None
        name = "" if row["anonymous"] else corpus._name(rng)
        s.add("complainant_identity", {
            "complaint_id": d.id, "name": name,
            "phone": f"1{rng.choice('3578')}{rng.randint(0, 999999999):09d}"
            if not row["anonymous"] or rng.random() < 0.3 else "",
            "email": f"user{rng.getrandbits(32):08x}@example.cn" if rng.random() < 0.2 else ""})
        if transferred_from is None:
            d.open("submit", t0, None, R.PUBLIC, "complaint_channel", starts=("acknowledge",),
                   payload={"files": rng.choice((0, 0, 0, 1, 2))}, public=True)
        else:
            src = transferred_from
            intake = s.staff(src.organ, "intake")
            d.open("receive_transfer", t0, intake, R.INTAKE, "complaint_channel",
                   starts=("acknowledge",), reason="按管辖权限转送",
                   payload={"from_number": src.row["number"], "from_organ": src.organ["name"]},
                   public=True)
        self._complaint_path(d, target, officer)
        if (self.focused and not self.declared) or rng.random() < 0.01:
            self._declare_conflict(d, officer)
        if d.state in self.OPEN_COMPLAINT:
            recent = s.recent_open[organ["id"]]
            recent.append(d)
            del recent[:-20]
        return d

    def _declare_conflict(self, d: Draft, officer: dict | None) -> None:
        """An inspector of the organ declares a conflict of interest with the complainant
        or the officer (the demo organ gets one in every run)."""
        s, rng = self.s, self.rng
        inspector = s.staff(d.organ, "inspector")
        if inspector is None:
            return
        self.declared = self.declared or self.focused
        with_officer = officer is not None and rng.random() < 0.5
        s.add("conflict_declaration", {
            "id": s.next_id("conflict_declaration"), "user_id": inspector,
            "officer_id": officer["id"] if with_officer else None,
            "complaint_id": None if with_officer else d.id,
            "reason": "与该辅警系亲属关系" if with_officer else "投诉人系本人的同学",
            "declared_at": s.later(d.row["created_at"], 2, 24 * 30)})

    def _accept(self, d: Draft, t: dt.datetime, officer: dict | None) -> dt.datetime:
        s, R = self.s, self.R
        t = d.fire("accept", s.later(t, 4, 24 * 14), s.staff(d.organ, "intake"), R.INTAKE)
        if d.row["officer_id"] is not None:
            d.accepted_at = t
        return t

    def _complaint_path(self, d: Draft, target: str, officer: dict | None) -> None:
        s, rng, R = self.s, self.rng, self.R
        t = d.row["created_at"]
        intake = s.staff(d.organ, "intake")
        leader = s.staff(d.organ, "leader")
        inspector = s.staff(d.organ, "inspector")
        if target == "submitted":
            if rng.random() < 0.1:
                t = d.fire("propose_refusal", s.later(t, 2, 72), intake, R.INTAKE,
                           reason=rng.choice(REFUSAL))
                d.fire("reject_refusal", s.later(t, 2, 48), leader, R.LEADER,
                       reason="属于本机关受理范围，应予受理")
            return
        if target in ("refusal_pending", "not_accepted"):
            t = d.fire("propose_refusal", s.later(t, 2, 24 * 10), intake, R.INTAKE,
                       reason=rng.choice(REFUSAL))
            if target == "not_accepted":
                d.fire("approve_refusal", s.later(t, 2, 72), leader, R.LEADER)
            return
        if target == "withdrawn":
            if rng.random() < 0.5:
                t = self._accept(d, t, officer)
            d.fire("withdraw", s.later(t, 2, 24 * 20), None, R.PUBLIC)
            return
        if target == "transferred":
            if rng.random() < 0.6:
                t = self._accept(d, t, officer)
            self._transfer(d, s.later(t, 2, 24 * 5), officer)
            return
        if target == "merged":
            if rng.random() < 0.4:
                t = self._accept(d, t, officer)
            self._merge(d, s.later(t, 2, 24 * 5))
            return
        t = self._accept(d, t, officer)
        if rng.random() < 0.25:
            t = d.fire("add_note", s.later(t, 2, 24 * 7), inspector, R.INSPECTOR,
                       payload={"note": rng.choice(NOTES)})
        if target == "accepted":
            if rng.random() < 0.08:
                self._extend(d, s.later(t, 24, 24 * 20), leader)
            return
        age = (s.now - d.row["created_at"]) / DAY
        investigated = target == "investigating" or (
            target != "conclusion_pending" and age > 60 and rng.random() < 0.15)
        if investigated and s.remaining >= 1:
            t = self._investigate(d, s.later(t, 24, 24 * 10), officer,
                                  "running" if target == "investigating" else "concluded")
            if target == "investigating":
                return
        else:
            if target == "investigating":
                return
            if rng.random() < 0.06:
                self._extend(d, s.later(t, 24 * 20, 24 * 40), leader)
            finding = rng.choices(("substantiated", "partly", "unsubstantiated", "unfounded"),
                                  (35, 20, 30, 15))[0]
            facts = rng.choice(corpus.FACTS).format(name=officer["name"] if officer else
                                                    "该辅警", c=d.pack.category(
                                                        d.row["category_code"]).label
                                                    if d.row["category_code"] in
                                                    {c.code for c in d.pack.categories}
                                                    else "相关")
            handling = rng.choice(HANDLING)
            t = d.fire("propose_conclusion", s.later(t, 24 * 3, 24 * 40), inspector,
                       R.INSPECTOR, payload={"finding": finding, "facts": facts,
                                             "handling": handling})
            d.row.update(finding=finding, facts=facts, handling=handling)
            if target == "conclusion_pending":
                return
            t = d.fire("approve_conclusion", s.later(t, 4, 24 * 5), leader, R.LEADER)
        if target == "concluded":
            return
        t = self._notify(d, s.later(t, 2, 24 * 4))
        if target == "notified":
            return
        if target == "under_review":
            d.fire("request_review", s.later(d.last_at, 24, 24 * 25), None, R.PUBLIC,
                   reason="对处理结果不服，认为调查不全面")
            return
        if target == "closed" and rng.random() < 0.62:
            at = max(d.row["review_deadline_at"] + dt.timedelta(minutes=5),
                     s.later(t, 24 * 31, 24 * 45))
            d.fire("close", min(at, s.now), intake, R.INTAKE)
            return
        t = d.fire("request_review", s.later(d.last_at, 24, 24 * 25), None, R.PUBLIC,
                   reason="对处理结果不服，认为调查不全面")
        t = max(s.later(t, 24 * 3, 24 * 28), d.last_at)
        limit = d.pack.limit("recheck_request")
        d.row["recheck_deadline_at"] = s.due(t, limit.amount, limit.unit.value)
        d.fire("uphold_on_review", t, leader, R.LEADER, reason="原处理意见事实清楚，处理适当",
               payload={"recheck_deadline": d.row["recheck_deadline_at"].isoformat()})
        if target == "closed" and rng.random() < 0.8:
            return
        t = d.fire("request_recheck", s.later(t, 24, 24 * 25), None, R.PUBLIC,
                   reason="对复查意见仍不服，请求复核")
        d.row["recheck_requested_at"] = t
        upper = s.staff(d.organ, "leader", above=True) or leader
        hearing = rng.random()
        if hearing < 0.5:
            t = d.fire("start_hearing", s.later(t, 24 * 2, 24 * 10), upper, R.LEADER,
                       reason="案情复杂，组织听证")
            if target == "under_recheck" and hearing < 0.3:
                return
            t = d.fire("end_hearing", s.later(t, 24 * 3, 24 * 15), upper, R.LEADER)
        if target == "under_recheck":
            return
        d.fire("uphold_on_recheck", s.later(t, 24 * 3, 24 * 25), upper, R.LEADER,
               reason="复核维持复查意见")

    def _notify(self, d: Draft, t: dt.datetime) -> dt.datetime:
        s, rng, R = self.s, self.rng, self.R
        limit = d.pack.limit("review_request")
        deadline = s.due(t, limit.amount, limit.unit.value)
        t = d.fire("issue_notice", t, s.staff(d.organ, "intake"), R.INTAKE,
                   payload={"review_deadline": deadline.isoformat()})
        d.row.update(notified_at=t, review_deadline_at=deadline)
        if rng.random() < 0.35:
            rating = rng.choices((1, 2, 3, 4, 5), (8, 7, 15, 30, 40))[0]
            comment = rng.choice(("", "处理及时", "态度很好", "还算满意", "处理太慢"))
            d.fire("rate", s.later(t, 2, 24 * 10), None, R.PUBLIC,
                   payload={"rating": rating, "comment": comment})
            d.row.update(rating=rating, rating_comment=comment)
        return t

    def _extend(self, d: Draft, t: dt.datetime, leader: int | None) -> None:
        days = self.rng.choice((15, 20, 30))
        clock = next(iter(d.running(("conclude",))), None)
        if clock is None:
            return
        clock["due_at"] = clock["due_at"] + days * DAY
        clock["extended_days"] = days
        d.fire("extend", t, leader, self.R.LEADER, reason="案情复杂，需进一步调查核实",
               payload={"extension_days": days, "due_at": clock["due_at"].isoformat()})

    def _transfer(self, d: Draft, t: dt.datetime, officer: dict | None) -> None:
        s = self.s
        if officer is not None and officer["organ_id"] != d.organ["id"]:
            target = s.organ_by_id[officer["organ_id"]]
        else:
            target = s.any_organ()
        if target["id"] == d.organ["id"] or s.remaining < 1:
            d.fire("withdraw", t, None, self.R.PUBLIC)
            return
        # what the receiving organ has done with it since, as far as time allows
        days = (s.now - t) / DAY
        fits = {k: w for k, w in {"submitted": 2, "accepted": 2, "closed": 6,
                                  "not_accepted": 1}.items() if self.AGES[k][0] <= days}
        new = self.complaint(s.pick(fits or {"submitted": 1}), target, t0=t,
                             transferred_from=d)
        d.row["transferred_to_id"] = new.id
        d.fire("transfer", t, s.staff(d.organ, "intake"), self.R.INTAKE,
               reason="该辅警隶属其他单位，转有权处理的机关办理",
               payload={"to_number": new.row["number"], "to_organ": target["name"]})

    def _merge(self, d: Draft, t: dt.datetime) -> None:
        candidates = [c for c in self.s.recent_open.get(d.organ["id"], [])
                      if c.state in self.OPEN_COMPLAINT and c.id != d.id]
        if not candidates:
            d.fire("withdraw", t, None, self.R.PUBLIC)
            return
        into = self.rng.choice(candidates)
        t = max(t, min(self.s.now, into.row["created_at"] + HOUR * self.rng.uniform(1, 48)))
        d.row["merged_into_id"] = into.id
        d.fire("merge", t, self.s.staff(d.organ, "intake"), self.R.INTAKE,
               reason="与在办案件反映同一事项", payload={"into_number": into.row["number"]})

    def _investigate(self, d: Draft, t: dt.datetime, officer: dict | None, how: str
                     ) -> dt.datetime:
        """Link the complaint to a new investigation; ``how`` running or concluded. Returns
        when the complaint concluded (or the start time while it runs)."""
        target = (self.s.pick({"investigating": 6, "clearance_pending": 1,
                               "violation_pending": 1}) if how == "running"
                  else self.s.pick({"cleared": 55, "violation": 45}))
        inv = self.investigation(d.organ, officer, t, target, complaints=[d])
        return inv.row.get("concluded_at") or t

    # ---- recusals
    def recusal(self, target: str, organ: dict | None, t0: dt.datetime | None = None
                ) -> None:
        s, rng, R = self.s, self.rng, self.R
        officer = self.officer_for(organ or s.any_organ())
        organ = s.organ_by_id[officer["organ_id"]]  # the officer's organ decides
        pack = s.packs[organ["pack_id"]]
        origin = s.pick({"public": 55, "oral": 15, "self": 18, "ordered": 12})
        if target == "granted" and origin != "ordered" and rng.random() < 0.1:
            origin = "ordered"
        if target != "granted" and origin == "ordered":
            origin = "public"
        if origin == "self" and (target in ("reconsidering", "denied_final", "withdrawn")
                                 or officer["id"] not in s.account_of):
            origin = "oral"
        t = t0 or self.age(*self.AGES_RECUSAL[target])
        leader = s.staff(organ, "leader")
        if origin == "ordered":  # the ordering organ decides and issues the decision
            organ = s.organ_by_id[s.staff_organ(leader)]
        tracked = origin in ("public", "oral")
        enumerated = pack.recusal_grounds_enumerated
        year = t.astimezone(s.tz).year
        row = {"number": s.number("HB", t), "state": "granted" if origin == "ordered"
               else "filed", "origin": origin,
               "applicant_role": rng.choice(pack.recusal_applicants).code if tracked else "",
               "officer_id": officer["id"], "officer_badge_text": officer["badge_no"],
               "officer_description": "", "created_at": t,
               "matter_ref": f"{corpus.PLATES[self._root(organ)]}公({organ['name'][:2]})"
                             f"{rng.choice(('受案', '行罚', '调解'))}字〔{year}〕"
                             f"{rng.randint(100, 99999)}号",
               "matter_summary": rng.choice(MATTERS),
               "ground_code": rng.choice(pack.recusal_grounds).code if enumerated else "",
               "ground_text": "" if enumerated else rng.choice(RECUSAL_FACTS),
               "facts": rng.choice(RECUSAL_FACTS),
               "access_code_hash": f"sha256${rng.getrandbits(64):016x}$"
                                   f"{rng.getrandbits(256):064x}" if tracked else None,
               "submission_key_hash": None, "reconsidered": False}
        if tracked and rng.random() < 0.15:
            row.update(officer_id=None, officer_badge_text="",
                       officer_description="三十岁左右，身材偏瘦，当天在窗口办理业务")
        d = s.draft("recusal", organ, row)
        if tracked:
            s.add("recusal_applicant", {"recusal_id": d.id, "name": corpus._name(rng),
                                        "phone": f"13{rng.randint(0, 999999999):09d}",
                                        "email": ""})
        if origin == "ordered":
            acts = rng.choice(("stand", "redo"))
            row.update(decided_at=t, earlier_acts_stand=acts == "stand",
                       earlier_acts_note="为保证案件公正处理，指令该辅警回避")
            d.open("order", t, leader, R.LEADER, "recusal_grounds", notice="ordered",
                   reason=row["earlier_acts_note"],
                   payload={"origin": origin, "earlier_acts": acts}, public=True)
            return
        if origin == "public":
            d.open("submit", t, None, R.PUBLIC, "recusal_applicants", starts=("recusal_decide",),
                   payload={"origin": origin, "files": 0}, public=True)
        elif origin == "oral":
            d.open("submit", t, s.staff(organ, "intake"), R.INTAKE, "recusal_applicants",
                   starts=("recusal_decide",), payload={"origin": origin, "files": 0},
                   public=True)
        else:
            d.open("submit", t, s.account_of[officer["id"]], R.OFFICER, "recusal_grounds",
                   starts=("recusal_decide",), payload={"origin": origin}, public=True)
        if target == "filed":
            return
        if target == "withdrawn":
            d.fire("withdraw", s.later(t, 1, 40), None, R.PUBLIC)
            return
        if rng.random() < 0.1:
            d.fire("add_note", s.later(t, 1, 10), s.staff(organ, "intake"), R.INTAKE,
                   payload={"note": "已通知相关办案单位"})
        t = s.later(d.last_at, 2, 60)
        if target == "granted" and rng.random() < 0.85:
            self._grant(d, "grant", t, leader)
            return
        t = d.fire("deny", t, leader, R.LEADER, reason="申请理由不成立")
        row["decided_at"] = t
        if tracked:
            limit = pack.limit("recusal_reconsider_request")
            row["reconsider_deadline_at"] = s.due(t, limit.amount, limit.unit.value)
        if target == "denied" or not tracked:
            return
        who, role = (None, R.PUBLIC) if origin == "public" else (s.staff(organ, "intake"),
                                                                 R.INTAKE)
        t = d.fire("request_reconsideration", s.later(t, 4, 24 * 4), who, role,
                   reason="不服驳回决定，申请复议")
        row["reconsidered"] = True
        if target == "reconsidering":
            return
        t = s.later(t, 12, 24 * 5)
        if target == "granted":
            self._grant(d, "grant_on_reconsideration", t, leader)
        else:
            t = d.fire("deny_on_reconsideration", t, leader, R.LEADER, reason="复议维持原决定")
            row["decided_at"] = t

    def _grant(self, d: Draft, trigger: str, t: dt.datetime, leader: int | None) -> None:
        acts = self.rng.choice(("stand", "redo"))
        reason = "申请理由成立，决定回避"
        t = d.fire(trigger, t, leader, self.R.LEADER, reason=reason,
                   payload={"earlier_acts": acts})
        d.row.update(decided_at=t, earlier_acts_stand=acts == "stand", earlier_acts_note=reason)

    def _root(self, organ: dict) -> str:
        return self.s.organ_by_id[organ["chain"][-1]]["code"]

    # ---- recoveries
    AGES_RECOVERY = {"opened": (0, 30), "no_fault": (20, SPAN_DAYS), "fault_found": (10, 50),
                "proposed": (12, 40), "waiver_pending": (20, 70), "waived": (40, SPAN_DAYS),
                "declined": (40, SPAN_DAYS), "ordered": (30, 70), "repaying": (60, 360),
                "settled": (150, SPAN_DAYS)}

    def recovery(self, target: str, organ: dict | None, t0: dt.datetime | None = None
                 ) -> None:
        from workflows.clocks import add_months
        from workflows.money import split_fen
        from workflows.recovery import BasisKind, is_mandatory, recovery_rule_key

        s, rng, R = self.s, self.rng, self.R
        officer = self.officer_for(organ or s.any_organ())
        organ = s.organ_by_id[officer["organ_id"]]  # the organ that paid: the officer's
        pack = s.packs[organ["pack_id"]]
        bases = list(BasisKind)
        basis = rng.choice(bases)
        if target == "declined":
            basis = next((b for b in bases if not is_mandatory(pack, b)), basis)
            if is_mandatory(pack, basis):
                target = "waived"
        t = t0 or self.age(*self.AGES_RECOVERY[target])
        paid = rng.randint(20, 3000) * 10000 + rng.choice((0, 5000))
        year = t.astimezone(s.tz).year
        court = "民初" if basis.value == "civil_judgment" else "赔"
        row = {"number": s.number("ZC", t), "state": "opened", "officer_id": officer["id"],
               "paid_fen": paid, "payee": rng.choice(PAYEES) + corpus._name(rng),
               "paid_on": (t - rng.uniform(10, 90) * DAY).astimezone(s.tz).date(),
               "basis_kind": basis.value,
               "basis_ref": f"（{year}）{corpus.PLATES[self._root(organ)]}"
                            f"{rng.randint(101, 199)}{court}{rng.randint(100, 9999)}号",
               "linked_number": "", "description": "执勤中处置不当造成第三人财产损失",
               "mandatory": is_mandatory(pack, basis),
               "rule_key": recovery_rule_key(pack, basis), "fault": None, "fault_facts": "",
               "proposed_fen": None, "statement_text": "", "statement_in_person": False,
               "statement_waived": False, "waiver_basis": "", "created_at": t}
        d = s.draft("recovery", organ, row)
        opener = s.staff(organ, "inspector")
        inspector = opener
        leader = s.staff(organ, "leader")
        d.open("open_recovery", t, opener, R.INSPECTOR, "recovery",
               payload={"paid_fen": paid, "mandatory": row["mandatory"]})
        if target == "opened":
            return
        t = s.later(t, 24 * 3, 24 * 20)
        facts = "经调取执法记录仪视频和询问当事人，认定该辅警在处置过程中存在过错"
        if target == "no_fault":
            fault = rng.choice(("ordinary_negligence", "none"))
            d.fire("close_no_fault", t, leader, R.LEADER, payload={"fault": fault})
            row.update(fault=fault, fault_facts=facts)
            return
        fault = rng.choice(("intent", "gross_negligence"))
        t = d.fire("find_fault", t, inspector, R.INSPECTOR, payload={"fault": fault})
        row.update(fault=fault, fault_facts=facts)
        if target == "fault_found":
            return
        proposes = target in ("proposed", "ordered", "repaying", "settled") or \
            rng.random() < 0.5
        if proposes:
            amount = max(100, paid * rng.choice((20, 30, 50, 100)) // 100)
            window = pack.limit("statement_window")
            t = d.fire("propose_amount", s.later(t, 24, 24 * 10), inspector, R.INSPECTOR,
                       reason="依照规定拟责令承担部分赔偿费用", payload={"amount_fen": amount})
            row.update(proposed_fen=amount, proposed_by_id=inspector,
                       statement_due_at=s.due(t, window.amount, window.unit.value))
            if rng.random() < 0.4:
                text = rng.choice(STATEMENTS)
                at = d.fire("state_defence", s.later(t, 12, 24 * 4), inspector, R.INSPECTOR,
                            payload={"statement": text, "in_person": True})
                row.update(statement_text=text, statement_at=at, statement_in_person=True)
            if target == "proposed":
                return
        if target in ("waiver_pending", "waived"):
            basis_text = "该辅警家庭经济确有困难，依照规定免予追偿"
            t = d.fire("propose_waiver", s.later(d.last_at, 24, 24 * 10), inspector,
                       R.INSPECTOR, reason="家庭困难", payload={"waiver_basis": basis_text})
            row["waiver_basis"] = basis_text
            if target == "waived":
                d.fire("approve_waiver", s.later(t, 24, 24 * 10),
                       s.staff(organ, "leader", exclude=(inspector,)), R.LEADER,
                       reason="同意免予追偿")
            return
        if target == "declined":
            d.fire("decline", s.later(d.last_at, 24, 24 * 10), leader, R.LEADER,
                   reason="综合考虑过错程度，决定不予追偿")
            return
        heard = row.get("statement_at") or row["statement_due_at"]
        if heard >= s.now:
            return
        t = s.later(max(heard, d.last_at), 4, 24 * 5)
        ordered = row["proposed_fen"]
        if rng.random() < 0.2:
            ordered = max(100, ordered * 4 // 5)
        t = d.fire("order", t, s.staff(organ, "leader", exclude=(inspector,)), R.LEADER,
                   reason="依照规定责令承担部分赔偿费用", payload={"amount_fen": ordered})
        row.update(ordered_fen=ordered, ordered_by_id=d.events[-1]["actor_id"], ordered_at=t)
        if target == "ordered":
            return
        count = rng.choice((1, 1, 3, 6, 12))
        first = (t + rng.uniform(5, 30) * DAY).astimezone(s.tz).date()
        t = d.fire("plan", s.later(t, 24, 24 * 7), inspector, R.INSPECTOR,
                   payload={"instalments": count, "first_due_on": first.isoformat(),
                            "interval": 1})
        parts = split_fen(ordered, count)
        dues = [add_months(first, k) for k in range(count)]
        for seq, (due_on, fen) in enumerate(zip(dues, parts, strict=True), start=1):
            s.add("recovery_instalment", {"recovery_id": d.id, "seq": seq, "due_on": due_on,
                                          "amount_fen": fen})
        today = s.now.astimezone(s.tz).date()
        if target == "settled":
            paying = list(zip(dues, parts, strict=True))
        else:
            paying = [(due, fen) for due, fen in zip(dues, parts, strict=True)
                      if due <= today and rng.random() < 0.8][: max(0, count - 1)]
        outstanding = ordered
        for due_on, fen in paying:
            paid_at = dt.datetime.combine(due_on, dt.time(10), s.tz).astimezone(UTC)
            paid_at = min(max(paid_at, d.last_at), s.now)
            paid_on = paid_at.astimezone(s.tz).date()
            outstanding -= fen
            at = d.fire("record_payment", paid_at, inspector, R.INSPECTOR,
                        payload={"amount_fen": fen, "paid_on": paid_on.isoformat(),
                                 "outstanding_fen": outstanding})
            s.add("recovery_payment", {"id": s.next_id("recovery_payment"),
                                       "recovery_id": d.id, "amount_fen": fen,
                                       "paid_on": paid_on, "note": "",
                                       "recorded_by_id": inspector, "recorded_at": at})
        if outstanding == 0:
            at = d.fire("settle", d.last_at, None, R.SYSTEM)
            row["settled_at"] = at

    # ---- 督办 on overdue cases
    def supervise(self, d: Draft) -> None:
        s, rng = self.s, self.rng
        late = [c for c in d.clocks if c["outcome"] == "running" and c["paused_at"] is None
                and c["due_at"] < s.now - DAY]
        if not late or rng.random() > 0.3 or len(d.organ["chain"]) < 2:
            return
        leader = s.staff(d.organ, "leader", above=True)
        if leader is None:
            return
        t = max(d.last_at, late[0]["due_at"]) + dt.timedelta(hours=rng.uniform(2, 96))
        if t >= s.now:
            return
        deadline = dt.datetime.combine((t + rng.uniform(7, 15) * DAY).astimezone(s.tz).date(),
                                       dt.time(23, 59, 59), s.tz).astimezone(UTC)
        sid = s.next_id("supervision")
        text = rng.choice(SUPERVISE)
        by = s.staff_organ(leader)
        row = {"id": sid, "case_type": d.type, "case_id": d.id, "organ_id": by,
               "issued_by_id": leader, "issued_at": t, "handler_organ_id": d.organ["id"],
               "deadline": deadline, "text": text, "acknowledged_at": None, "response": ""}
        d.record("supervise", t, leader, self.R.LEADER, text,
                 {"supervision": sid, "deadline": deadline.isoformat(), "by_organ": by})
        handler = s.staff_at.get((d.organ["id"], "inspector"))
        answered = t + dt.timedelta(hours=rng.uniform(4, 96))
        if handler and answered < s.now and rng.random() < 0.5:
            who = rng.choice(handler)
            response = rng.choice(ANSWERS)
            row.update(acknowledged_at=answered, acknowledged_by_id=who, response=response)
            d.record("answer_supervision", answered, who, self.R.INSPECTOR, response,
                     {"supervision": sid})
        s.add("supervision", row)
