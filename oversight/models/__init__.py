"""All models, imported here so Alembic and the app see one metadata."""

from oversight.models.complaint import ComplainantIdentity, Complaint
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

__all__ = [
    "Attachment", "CaseClock", "CaseEvent", "ClockOutcome", "ComplainantIdentity", "Complaint",
    "EmploymentStatus", "MailOutbox", "MailStatus", "Notice", "Officer", "OfficerCategory",
    "Organ", "SearchOutbox", "Sequence", "Throttle", "User",
]
