"""All models, imported here so Alembic and the app see one metadata."""

from oversight.models.complaint import ComplainantIdentity, Complaint
from oversight.models.consequences import (
    Appeal,
    DisciplinaryDecision,
    Recovery,
    RecoveryInstalment,
    RecoveryPayment,
)
from oversight.models.investigation import (
    AppealOutcome,
    ConflictDeclaration,
    EvidenceEntry,
    Investigation,
    InvestigationMember,
    Suspension,
)
from oversight.models.org import (
    EmploymentStatus,
    InterventionRule,
    Officer,
    OfficerCategory,
    OfficerFlag,
    Organ,
    SecuritySetting,
    User,
)
from oversight.models.records import (
    Attachment,
    CaseClock,
    CaseCount,
    CaseEvent,
    ClockOutcome,
    ClockReminder,
    MailOutbox,
    MailStatus,
    Notice,
    SearchOutbox,
    Sequence,
    StatsSnapshot,
    Supervision,
    Throttle,
)
from oversight.models.recusal import Recusal, RecusalApplicant

__all__ = [
    "ClockReminder", "InterventionRule", "OfficerFlag", "Supervision",
    "Appeal", "DisciplinaryDecision", "Recovery", "RecoveryInstalment", "RecoveryPayment",
    "AppealOutcome", "ConflictDeclaration", "EvidenceEntry", "Investigation",
    "InvestigationMember", "Recusal", "RecusalApplicant", "Suspension",
    "Attachment", "CaseClock", "CaseCount", "CaseEvent", "ClockOutcome",
    "ComplainantIdentity", "Complaint",
    "EmploymentStatus", "MailOutbox", "MailStatus", "Notice", "Officer", "OfficerCategory",
    "Organ", "SearchOutbox", "SecuritySetting", "Sequence", "StatsSnapshot", "Throttle",
    "User",
]
