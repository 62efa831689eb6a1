"""What compose should say about its recipients before sending: an address that bounced, a candidate away.

Only for candidates the user may see, so that a note never tells whose address it is otherwise.
"""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from webapp.extensions import db
from webapp.mail.outbound.compose import parse_addresses
from webapp.mail.read.access import visible_candidates
from webapp.models import Candidate, CandidateEmail, User


@dataclass
class AddressNote:
    address: str
    name: str
    failing_since: datetime | None
    failing_reason: str | None
    away_until: date | None


def notes_for(user: User, addresses: str | None, today: date) -> list[AddressNote]:
    """Notes on the candidates among `addresses` (a To field's text) that the user may see."""
    wanted = [a.lower() for a in parse_addresses(addresses or "", allow_test_domains=True)[0]][:50]
    if not wanted:
        return []
    visible = visible_candidates(user).with_only_columns(Candidate.id)
    rows = db.session.execute(
        select(CandidateEmail.email, CandidateEmail.failing_since, CandidateEmail.failing_reason, Candidate)
        .join(Candidate, Candidate.id == CandidateEmail.candidate_id)
        .where(CandidateEmail.email.in_(wanted), Candidate.id.in_(visible))
    ).all()
    notes = []
    for email, since, reason, candidate in rows:
        away = candidate.away_until if candidate.away_until and candidate.away_until >= today else None
        if since or away:
            notes.append(AddressNote(email, candidate.full_name, since, reason, away))
    return notes
