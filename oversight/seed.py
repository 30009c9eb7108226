"""Demo data: one organ tree per jurisdiction, a few officers, one account per role.
Passwords are random and returned once so the caller can print them; nothing is fixed."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from oversight.extensions import db
from oversight.models import Officer, OfficerCategory, Organ, User
from workflows.roles import Role

TREES = {
    "beijing-2022": ("BJ", "北京市公安局", [("BJ-CY", "朝阳分局", ["BJ-CY-SLT", "三里屯派出所"]),
                                         ("BJ-HD", "海淀分局", None)]),
    "province-2021": ("PV", "某省公安厅", [("PV-A", "某市公安局", ["PV-A-E", "城东分局"])]),
    "sichuan-2021": ("SC", "四川省公安厅", [("SC-CD", "成都市公安局", ["SC-CD-JJ", "锦江区分局"])]),
    "nantong-draft": ("NT", "南通市公安局", [("NT-CC", "崇川分局", None)]),
    "yunnan-2024": ("YN", "云南省公安厅", [("YN-KM", "昆明市公安局", ["YN-KM-WH", "五华分局"])]),
}

OFFICERS = [
    ("BJ10001", "张伟", "BJ-CY", OfficerCategory.DUTY, 3),
    ("BJ10002", "李娜", "BJ-CY-SLT", OfficerCategory.DUTY, 2),
    ("BJ10003", "王芳", "BJ-HD", OfficerCategory.CIVILIAN, 4),
    ("PV20001", "刘洋", "PV-A-E", OfficerCategory.DUTY, 2),
    ("SC30001", "陈杰", "SC-CD-JJ", OfficerCategory.DUTY, 3),
    ("NT40001", "杨静", "NT-CC", OfficerCategory.CIVILIAN, 1),
    ("YN50001", "赵磊", "YN-KM-WH", OfficerCategory.DUTY, 2),
]

DEMO_USERS = [
    ("intake", "受理员小周", Role.INTAKE, "BJ-CY"),
    ("inspector", "督察老孙", Role.INSPECTOR, "BJ-CY"),
    ("leader", "审批领导钱局", Role.LEADER, "BJ-CY"),
    ("admin", "系统管理员", Role.ADMIN, "BJ"),
    # The upper organ's leader, who reviews an officer's appeal against 朝阳's decisions.
    ("bj_leader", "市局督察领导", Role.LEADER, "BJ"),
    ("officer", "张伟", Role.OFFICER, "BJ-CY"),
    # Yunnan, where an investigation suspends the officer automatically (第三十二条).
    ("yn_inspector", "督察小李（五华）", Role.INSPECTOR, "YN-KM-WH"),
    ("yn_leader", "审批领导（五华）", Role.LEADER, "YN-KM-WH"),
]


def add_organ(code: str, name: str, pack_id: str, parent: Organ | None) -> Organ:
    organ = Organ(code=code, name=name, pack_id=pack_id, parent=parent)
    db.session.add(organ)
    db.session.flush()
    organ.path = f"{parent.path if parent else '/'}{organ.id}/"
    return organ


def database_is_empty() -> bool:
    return db.session.execute(sa.select(sa.func.count(Organ.id))).scalar() == 0


def seed_demo() -> dict[str, str]:
    """Create the demo data; return {username: password}. Caller commits."""
    by_code: dict[str, Organ] = {}
    for pack_id, (code, name, children) in TREES.items():
        root = add_organ(code, name, pack_id, None)
        by_code[code] = root
        for child_code, child_name, grandchild in children:
            child = add_organ(child_code, child_name, pack_id, root)
            by_code[child_code] = child
            if grandchild:
                by_code[grandchild[0]] = add_organ(grandchild[0], grandchild[1], pack_id, child)
    officers = {}
    for badge, name, organ_code, category, level in OFFICERS:
        officer = Officer(badge_no=badge, name=name, organ=by_code[organ_code],
                          category=category, level=level)
        db.session.add(officer)
        officers[badge] = officer
    db.session.flush()
    passwords = {}
    for username, display, role, organ_code in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        user = User(username=username, display_name=display, role=role,
                    organ=by_code[organ_code],
                    officer=officers["BJ10001"] if role is Role.OFFICER else None)
        user.set_password(password)
        db.session.add(user)
        passwords[username] = password
    db.session.flush()
    return passwords
