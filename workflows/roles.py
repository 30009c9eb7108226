"""Who acts on a case. Pure domain: the state tables name these roles."""

from __future__ import annotations

import enum


class Role(enum.Enum):
    """A role carries its Chinese label so templates never map strings."""

    PUBLIC = "public"  # the complainant or applicant, proven by case number + access code
    INTAKE = "intake"
    INSPECTOR = "inspector"
    LEADER = "leader"
    ADMIN = "admin"
    OFFICER = "officer"
    SYSTEM = "system"  # scheduled jobs (deadlines) — never a person

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.PUBLIC: "投诉人",
    Role.INTAKE: "受理员",
    Role.INSPECTOR: "督察",
    Role.LEADER: "审批领导",
    Role.ADMIN: "系统管理员",
    Role.OFFICER: "辅警本人",
    Role.SYSTEM: "系统",
}

STAFF_ROLES = (Role.INTAKE, Role.INSPECTOR, Role.LEADER, Role.ADMIN, Role.OFFICER)
