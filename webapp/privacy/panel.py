"""What the candidate page shows of data protection: the CV links, export and erase."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from webapp.models import Candidate, CandidateFile, CvShare, User
from webapp.models.types import utcnow
from webapp.privacy import shares
from webapp.privacy.erase import may_manage


@dataclass
class PrivacyPanel:
    """The candidate page's section: links made, documents a new link may serve, rights."""

    may_manage: bool
    links: list[CvShare] = field(default_factory=list)
    documents: list[CandidateFile] = field(default_factory=list)
    default_expiry: date = date.min


def privacy_panel(user: User, candidate: Candidate) -> PrivacyPanel:
    """The section for `user`, who may see the candidate (the view checked)."""
    return PrivacyPanel(
        may_manage=may_manage(user, candidate),
        links=shares.for_candidate(candidate.id),
        documents=shares.documents(candidate.id),
        default_expiry=(utcnow() + timedelta(days=shares.DEFAULT_DAYS)).date(),
    )
