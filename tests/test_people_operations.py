"""The people operations called directly, without HTTP: convert, add an address, CVs, claims."""

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Attachment, AuditLog, Candidate, CandidateFile, Direction, Message, Thread, User
from webapp.people import operations as people


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend", "other": "Frontend"},
        users={"Rita Recruiter": ["job"]},
        candidates={"Alice Able": ["job"]},
    )


@pytest.fixture
def jane(make, team):
    """Jane wrote in two conversations and Rita answered her once; one note is internal."""
    first = make.thread("Freelance offer")
    make.message(first, from_address="jane@agency.test", to_users=[team.rita])
    make.message(first, direction=Direction.OUTBOUND, sender=team.rita, to_addresses=["jane@agency.test"])
    second = make.thread("Another idea")
    make.message(second, from_address="jane@agency.test")
    make.message(second, from_address="jane@agency.test", is_internal=True)
    make.message(
        second, direction=Direction.OUTBOUND, sender=team.rita, to_addresses=["mary.jane@agency.test"]
    )
    return first, second


@pytest.fixture
def session(app, team):
    """An app context for the test: the operations run in it as in a view or a job."""
    with app.app_context():
        yield db.session


def rita(team) -> User:
    return db.session.get(User, team.rita.id)


def mail_of(candidate_id: int) -> list[str]:
    """Who wrote or was written to, for each message the candidate owns, in order."""
    rows = db.session.scalars(
        select(Message).where(Message.candidate_id == candidate_id).order_by(Message.id)
    )
    return [m.from_address if m.direction != Direction.OUTBOUND else f"to {m.to_addresses[0]}" for m in rows]


def audit_log() -> list[tuple[str, dict]]:
    return [(a.action, a.details) for a in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]


def a_cv(make, team, filename="Sofia_Rossi_CV.pdf", **fields) -> Message:
    """An incoming CV with its PDF and an inline logo (made before the test's own writes: SQLite
    lets one writer at a time)."""
    msg = make.message(
        subject="A CV", is_cv=True, cv_offer_id=team.job.id, from_address="mark@hr.test", **fields
    )
    with make.app.app_context():
        db.session.add(
            Attachment(
                message_id=msg.id, filename=filename, content_type="application/pdf", size=3, sha256="0" * 64
            )
        )
        db.session.add(
            Attachment(
                message_id=msg.id,
                filename="logo.png",
                content_type="image/png",
                size=3,
                sha256="1" * 64,
                is_inline=True,
            )
        )
        db.session.commit()
    return msg


# claim_mail_of


def test_claim_takes_the_addresses_mail_both_ways_and_its_conversations(session, team, jane):
    alice = db.session.get(Candidate, team.alice.id)
    assert people.claim_mail_of("JANE@agency.test", alice) == 3
    # Not the internal note, nor mail to another address that merely contains Jane's.
    assert mail_of(alice.id) == ["jane@agency.test", "to jane@agency.test", "jane@agency.test"]
    assert [db.session.get(Thread, t.id).candidate_id for t in jane] == [alice.id, alice.id]
    assert people.claim_mail_of("jane@agency.test", alice) == 0  # nothing left: safe to run twice


def test_claim_leaves_another_candidates_mail_and_conversation_alone(session, make, team):
    bob = make.candidate("Bob Baker", offers=[team.job], emails=["bob@outside.test"])
    thread = make.thread("Bob's", candidate=bob)
    make.message(thread, candidate=bob, from_address="jane@agency.test")
    alice = db.session.get(Candidate, team.alice.id)
    assert people.claim_mail_of("jane@agency.test", alice) == 0
    assert db.session.get(Thread, thread.id).candidate_id == bob.id


# convert_to_candidate


def test_convert_makes_a_placed_candidate_who_takes_the_mail(session, team, jane):
    jane_c = people.convert_to_candidate(rita(team), "Jane@Agency.test", " Jane ", "Cole ", team.job.id)
    assert (jane_c.first_name, jane_c.last_name, jane_c.primary_email) == ("Jane", "Cole", "jane@agency.test")
    assert [p.offer_id for p in jane_c.placements] == [team.job.id]
    assert mail_of(jane_c.id) == ["jane@agency.test", "to jane@agency.test", "jane@agency.test"]
    assert audit_log() == [
        (
            "convert_to_candidate",
            {"address": "jane@agency.test", "offer_id": team.job.id, "messages_moved": 3},
        )
    ]


def test_convert_refuses_an_address_that_is_a_candidates(session, team):
    with pytest.raises(people.PeopleError, match="already belongs"):
        people.convert_to_candidate(rita(team), "ALICE@outside.test", "A", "B", None)
    assert audit_log() == []


# add_address


def test_add_address_gives_the_candidate_the_address_and_its_mail(session, team, jane):
    alice = db.session.get(Candidate, team.alice.id)
    assert people.add_address(rita(team), alice, "jane@agency.test") == 3
    db.session.refresh(alice)
    assert sorted(e.email for e in alice.emails) == ["alice@outside.test", "jane@agency.test"]
    assert people.add_address(rita(team), alice, "Jane@agency.test") == 0  # already hers: no second row
    assert len(alice.emails) == 2
    assert [action for action, _ in audit_log()] == ["add_address_to_candidate"] * 2


def test_add_address_refuses_another_candidates_address(session, make, team):
    bob = make.candidate("Bob Baker", offers=[team.job], emails=["bob@outside.test"])
    alice = db.session.get(Candidate, team.alice.id)
    with pytest.raises(people.PeopleError, match="another candidate"):
        people.add_address(rita(team), alice, "bob@outside.test")
    assert people.owner_of("bob@outside.test").id == bob.id


# create_from_cv and discard_cv


def test_create_from_cv_places_a_new_candidate_and_keeps_the_cv_not_inline_images(session, make, team):
    cv = a_cv(make, team)
    msg = db.session.get(Message, cv.id)
    sofia = people.create_from_cv(rita(team), msg, "Sofia", "Rossi", "sofia@example.com", team.job.id)
    assert [p.offer_id for p in sofia.placements] == [team.job.id]
    files = db.session.scalars(select(CandidateFile).where(CandidateFile.candidate_id == sofia.id))
    assert [(f.attachment.filename, f.kind) for f in files] == [("Sofia_Rossi_CV.pdf", "cv")]
    assert msg.cv_processed_at is not None
    assert msg.candidate_id == sofia.id
    assert msg.thread.candidate_id == sofia.id
    [(action, details)] = audit_log()
    assert action == "cv_to_candidate"
    assert details == {
        "message_id": cv.id,
        "offer_id": team.job.id,
        "merged": False,
    }


def test_create_from_cv_merges_into_an_existing_candidate_once(session, make, team):
    first, second = (db.session.get(Message, a_cv(make, team).id) for _ in range(2))
    alice = db.session.get(Candidate, team.alice.id)
    assert people.create_from_cv(rita(team), first, "", "", "", team.other.id, existing=alice) is alice
    db.session.refresh(alice)  # the second CV comes in another request
    people.create_from_cv(rita(team), second, "", "", "", team.other.id, existing=alice)
    db.session.refresh(alice)
    assert sorted(p.offer_id for p in alice.placements) == [team.job.id, team.other.id]  # placed once
    assert (
        db.session.scalar(select(Candidate.id).where(Candidate.id != alice.id)) is None
    )  # no second profile
    assert [d["merged"] for _, d in audit_log()] == [True, True]


def test_discard_cv_marks_it_processed_and_makes_nobody(session, make, team):
    msg = db.session.get(Message, a_cv(make, team).id)
    people.discard_cv(rita(team), msg)
    assert msg.cv_processed_at is not None
    assert msg.candidate_id is None
    assert audit_log() == [("cv_discarded", {"sender": "mark@hr.test"})]


def test_the_cv_guess_is_the_person_named_in_an_agencys_mail(session, make, team):
    cv = a_cv(make, team, body_text="Please find the CV of Sofia Rossi (sofia.rossi@example.com).")
    guess = people.guess_cv_person(db.session.get(Message, cv.id), {"rita@team.test"}, "mail.demo.test")
    assert (guess.first_name, guess.last_name, guess.email, guess.existing) == (
        "Sofia",
        "Rossi",
        "sofia.rossi@example.com",
        None,
    )
