"""The data model; importing this package registers every table."""

from webapp.models.candidate import Candidate, CandidateEmail, CandidateFollow, Placement
from webapp.models.message import (
    DELIVERED_STATUSES,
    INBOUND,
    OUTBOUND,
    Attachment,
    BulkSend,
    Message,
    MessageRead,
    MessageRecipient,
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
    "BulkSend",
    "Candidate",
    "CandidateEmail",
    "CandidateFollow",
    "Message",
    "MessageRead",
    "MessageRecipient",
    "Offer",
    "OfferAccess",
    "OfferFollow",
    "Placement",
    "Template",
    "Thread",
    "User",
]
