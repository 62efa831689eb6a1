"""The data model; importing this package registers every table."""

from webapp.models.audit import AuditLog
from webapp.models.candidate import Candidate, CandidateEmail, CandidateFile, CandidateFollow, Placement
from webapp.models.folder import SEARCH_EVERYWHERE, FolderCount, FolderEntry
from webapp.models.mailbox import (
    AuthMethod,
    FolderRole,
    MailboxAppend,
    MailboxConnection,
    MailboxFolder,
    Security,
)
from webapp.models.message import (
    AUTHOR_ONLY_STATUSES,
    DELIVERED_STATUSES,
    PENDING_STATUSES,
    SENT_FOLDER_STATUSES,
    Attachment,
    BounceRecipient,
    BulkSend,
    DeliveryState,
    Direction,
    Message,
    MessageRead,
    MessageRecipient,
    Outcome,
    SenderAuth,
    SentCopy,
    Status,
    Template,
    Thread,
)
from webapp.models.offer import Offer, OfferAccess, OfferFollow
from webapp.models.privacy import CvShare, CvShareView, Setting
from webapp.models.user import User

__all__ = [
    "AUTHOR_ONLY_STATUSES",
    "DELIVERED_STATUSES",
    "PENDING_STATUSES",
    "SEARCH_EVERYWHERE",
    "SENT_FOLDER_STATUSES",
    "DeliveryState",
    "FolderCount",
    "SenderAuth",
    "FolderEntry",
    "FolderRole",
    "AuthMethod",
    "MailboxAppend",
    "MailboxConnection",
    "MailboxFolder",
    "Security",
    "Direction",
    "Outcome",
    "Status",
    "Attachment",
    "AuditLog",
    "BounceRecipient",
    "BulkSend",
    "Candidate",
    "CandidateEmail",
    "CandidateFile",
    "CandidateFollow",
    "CvShare",
    "CvShareView",
    "Message",
    "MessageRead",
    "MessageRecipient",
    "SentCopy",
    "Offer",
    "OfferAccess",
    "OfferFollow",
    "Placement",
    "Setting",
    "Template",
    "Thread",
    "User",
]
