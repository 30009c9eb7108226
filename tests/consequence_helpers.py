"""Helpers for the consequences tests: an approved violation finding for an officer, and a
decision driven through the real services to any point."""

from __future__ import annotations

import datetime as dt

from helpers import user
from investigation_helpers import VIOLATION, fire, officer, open_on_initiative

from oversight.models.base import utcnow
from oversight.services import discipline, recoveries
from oversight.services.uow import unit_of_work

#: Earlier than now, so the statement window (5 working days) is long closed by "now".
LONG_AGO = utcnow().replace(microsecond=0) - dt.timedelta(days=30)


def violation(organ_code: str = "BJ-CY", badge: str = "BJ10001", inspector: str = "inspector",
              leader: str = "leader", now=None):
    """An investigation of ``badge`` whose violation finding a leader approved."""
    return violation_at(organ_code, badge, inspector, leader, now)


def violation_at(organ_code: str, badge: str, inspector: str, leader: str, now=None):
    now = now or LONG_AGO
    inv = open_on_initiative(organ_code, badge, inspector, now=now)
    fire(inv, "propose_violation", inspector, {**VIOLATION, "category_codes": [
        inv.pack.categories[0].code]}, now=now)
    fire(inv, "approve_violation", leader, now=now)
    return inv


def propose(inv, measure: str = "demotion", who: str = "inspector", now=None, ground=""):
    with unit_of_work():
        return discipline.propose(inv, user(who), measure_code=measure, ground_code=ground,
                                  facts="辱骂群众，情节较重。", articles="", now=now or LONG_AGO)


def open_recovery(who: str = "inspector", badge: str = "BJ10001", paid: str = "10000",
                  basis: str = "state_compensation", now=None):
    now = now or utcnow()
    paid_on = (now - dt.timedelta(days=5)).date().isoformat()
    with unit_of_work():
        return recoveries.open_recovery(
            user(who), officer=officer(badge), paid=paid, payee="张某", paid_on=paid_on,
            basis_kind=basis, basis_ref="（2026）京01国赔字第12号", now=now)
