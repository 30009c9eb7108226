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
from oversight.models.org import EmploymentStatus, Officer, OfficerCategory, Organ, User
from oversight.models.records import (
    Attachment,
    CaseClock,
    CaseEvent,
    ClockOutcome,
    MailOutbox,
    MailStatus,
    Notice,
    SearchOutbox,
    Sequence,
    Throttle,
)
from oversight.models.recusal import Recusal, RecusalApplicant

__all__ = [
    "Appeal", "DisciplinaryDecision", "Recovery", "RecoveryInstalment", "RecoveryPayment",
    "AppealOutcome", "ConflictDeclaration", "EvidenceEntry", "Investigation",
    "InvestigationMember", "Recusal", "RecusalApplicant", "Suspension",
    "Attachment", "CaseClock", "CaseEvent", "ClockOutcome", "ComplainantIdentity", "Complaint",
    "EmploymentStatus", "MailOutbox", "MailStatus", "Notice", "Officer", "OfficerCategory",
    "Organ", "SearchOutbox", "Sequence", "Throttle", "User",
]
