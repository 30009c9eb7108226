"""Who acts on a case. Pure domain: the state tables name these roles."""

from __future__ import annotations

import enum

from workflows.i18n import N_, translate


class Role(enum.Enum):
    """A role carries its (translated) label so templates never map strings."""

    PUBLIC = "public"  # the complainant or applicant, proven by case number + access code
    INTAKE = "intake"
    INSPECTOR = "inspector"
    LEADER = "leader"
    ADMIN = "admin"
    OFFICER = "officer"
    SYSTEM = "system"  # scheduled jobs (deadlines) — never a person

    @property
    def label(self) -> str:
        return translate(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.PUBLIC: N_("投诉人"),
    Role.INTAKE: N_("受理员"),
    Role.INSPECTOR: N_("督察"),
    Role.LEADER: N_("审批领导"),
    Role.ADMIN: N_("系统管理员"),
    Role.OFFICER: N_("辅警本人"),
    Role.SYSTEM: N_("系统"),
}
