"""Helpers for the investigation and suspension tests: extra staff accounts (as the seed
makes them), driving an investigation through the real services, and reading records."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from helpers import organ, user

from oversight.extensions import db
from oversight.models import CaseEvent, Notice, Officer, Suspension, User
from oversight.models.base import utcnow
from oversight.services import investigations, workflow
from oversight.services.uow import unit_of_work
from workflows.roles import Role

#: One organ and its officer per pack (the demo data's).
PACK_SITES = {
    "beijing-2022": ("BJ-CY", "BJ10001"),
    "province-2021": ("PV-A-E", "PV20001"),
    "sichuan-2021": ("SC-CD-JJ", "SC30001"),
    "nantong-draft": ("NT-CC", "NT40001"),
    "yunnan-2024": ("YN-KM-WH", "YN50001"),
}


def add_user(username: str, role: Role, organ_code: str, display_name: str | None = None,
             officer: Officer | None = None) -> tuple[User, str]:
    """A staff account created as the seed does; returns it with its password."""
    password = secrets.token_urlsafe(12)
    with unit_of_work():
        account = User(username=username, display_name=display_name or username, role=role,
                       organ=organ(organ_code), officer=officer)
        account.set_password(password)
        db.session.add(account)
    return account, password


def staff_at(organ_code: str, prefix: str) -> dict[str, str]:
    """An inspector, a second inspector and a leader at ``organ_code``; {username: pw}."""
    out = {}
    for suffix, role, name in (("insp", Role.INSPECTOR, "督察甲"),
                               ("insp2", Role.INSPECTOR, "督察乙"),
                               ("lead", Role.LEADER, "领导丙")):
        username = f"{prefix}-{suffix}"
        _account, out[username] = add_user(username, role, organ_code, f"{name}{prefix}")
    return out


def officer(badge: str) -> Officer:
    return db.session.execute(sa.select(Officer).where(Officer.badge_no == badge)).scalar_one()


def fire(case, trigger: str, who: str, data: dict | None = None, **kwargs):
    with unit_of_work():
        return workflow.fire(case, trigger, user(who), data or {}, **kwargs)


def open_on_initiative(organ_code: str, badge: str, lead: str, assistants=(), now=None,
                       actor: str | None = None):
    with unit_of_work():
        return investigations.open_investigation(
            user(actor or lead), organ=organ(organ_code), subject="执勤中态度粗暴的线索",
            summary="群众来电反映。", officer=officer(badge), lead=user(lead),
            assistants=[user(a) for a in assistants], origin="initiative", now=now or utcnow())


def events_of(case, trigger: str | None = None) -> list[CaseEvent]:
    q = sa.select(CaseEvent).where(CaseEvent.case_type == case.case_type,
                                   CaseEvent.case_id == case.id)
    if trigger:
        q = q.where(CaseEvent.trigger == trigger)
    return list(db.session.execute(q.order_by(CaseEvent.seq)).scalars())


def notices_of(case, kind: str | None = None) -> list[Notice]:
    q = sa.select(Notice).where(Notice.case_type == case.case_type, Notice.case_id == case.id)
    if kind:
        q = q.where(Notice.kind == kind)
    return list(db.session.execute(q.order_by(Notice.id)).scalars())


def suspensions_of(badge: str) -> list[Suspension]:
    return list(db.session.execute(
        sa.select(Suspension).where(Suspension.officer_id == officer(badge).id)
        .order_by(Suspension.id)).scalars())


VIOLATION = {"complaint_finding": "substantiated",
             "facts": "经调取执法记录仪视频，该辅警确有辱骂群众的言语。"}
CLEARED = {"complaint_finding": "unfounded",
           "facts": "经调取执法记录仪视频，该辅警依法劝离，未见辱骂、推搡。"}
