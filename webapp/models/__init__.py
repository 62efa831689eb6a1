"""The data model; importing this package registers every table."""

from webapp.models.audit import AuditLog
from webapp.models.candidate import Candidate, CandidateEmail, CandidateFile, CandidateFollow, Placement
from webapp.models.message import (
    DELIVERED_STATUSES,
    INBOUND,
    OUTBOUND,
    Attachment,
    BulkSend,
    Message,
    MessageRead,
    MessageRecipient,
    SentCopy,
    Template,
    Thread,
)
from webapp.models.offer import Offer, OfferAccess, OfferFollow
from webapp.models.user import User

__all__ = [
    "DELIVERED_STATUSES",
    "INBOUND",
    "OUTBOUND",
    "Attachment",
    "AuditLog",
    "BulkSend",
    "Candidate",
    "CandidateEmail",
    "CandidateFile",
    "CandidateFollow",
    "Message",
    "MessageRead",
    "MessageRecipient",
    "SentCopy",
    "Offer",
    "OfferAccess",
    "OfferFollow",
    "Placement",
    "Template",
    "Thread",
    "User",
]
