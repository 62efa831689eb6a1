"""The bulk operations called directly, without HTTP: resolve, problems, create, progress."""

import pytest
from sqlalchemy import func, select

from webapp import services
from webapp.extensions import db
from webapp.mail.outbound import bulk
from webapp.models import BulkSend, Message, Offer, User

COMPANY = "Acme"


@pytest.fixture
def team(bulk_team):
    return bulk_team


@pytest.fixture
def session(app, team):
    """An app context for the test: the operations run in it as in a view or a job."""
    with app.app_context():
        yield db.session


def user(team_member) -> User:
    return db.session.get(User, team_member.id)


def offers(*members) -> list[Offer]:
    return [db.session.get(Offer, m.id) for m in members]


def names(recipients: list[bulk.Recipient]) -> list[str]:
    return [r.candidate.full_name for r in recipients]


def create(app, sender: User, recipients: bulk.Recipients, subject="Hello", body="Hi [candidate.first_name]"):
    return bulk.create(
        sender, recipients, subject, body, None, services.mail_domain(), services.blob_store(), COMPANY
    )


# resolve


def test_resolve_takes_everyone_on_the_offers_once_sorted_by_name(session, team):
    found = bulk.resolve(user(team.rita), offers(team.job, team.pool), [team.bob.id])
    assert names(found.ready) == ["Alice Able", "Bob Baker", "Carl Cole"]  # Bob once, though asked thrice
    assert names(found.skipped) == ["Nora Nomail"]  # no address: shown, never mailed
    assert found.left_out == 0
    assert [r.address for r in found.ready] == ["alice@outside.test", "bob@outside.test", "carl@outside.test"]


def test_resolve_leaves_out_unknown_and_invisible_candidates(session, team):
    found = bulk.resolve(user(team.rita), [], [team.sue.id, team.alice.id, 999999])
    assert names(found.ready) == ["Alice Able"]
    assert found.left_out == 2  # Sue (on a job Rita cannot access) and an id that does not exist
    admin = bulk.resolve(user(team.ada), [], [team.sue.id, team.alice.id])
    assert names(admin.ready) == ["Alice Able", "Sue Secret"]
    assert admin.left_out == 0


def test_resolve_gives_each_recipient_the_job_it_means(session, team):
    found = bulk.resolve(user(team.rita), offers(team.job, team.pool), [])
    jobs = {r.candidate.full_name: r.offer.title if r.offer else None for r in found.ready}
    # Bob is on both chosen offers: which one [job.title] means is unknown.
    assert jobs == {"Alice Able": "Backend Engineer", "Bob Baker": None, "Carl Cole": "Talent Pool"}
    # Picked from a folder, with no offer chosen: their only placement.
    picked = bulk.resolve(user(team.rita), [], [team.alice.id])
    assert picked.ready[0].offer.title == "Backend Engineer"


def test_offers_for_refuses_an_offer_out_of_reach(session, team):
    assert [o.title for o in bulk.offers_for(user(team.rita), [team.pool.id, team.job.id])] == [
        "Talent Pool",
        "Backend Engineer",
    ]
    assert bulk.offers_for(user(team.rita), [team.job.id, team.secret.id]) is None
    assert bulk.offers_for(user(team.rita), [999999]) is None
    assert bulk.offers_for(user(team.ada), [team.secret.id])[0].title == "Secret Job"


# problems


def test_problems_name_each_candidate_and_what_fails(session, team):
    rita = user(team.rita)
    found = bulk.resolve(rita, offers(team.job, team.pool), [])
    problems = bulk.problems(found, "About [job.title]", "Hi [candidate.nickname]", rita, COMPANY, "r@x.test")
    listed = {p.candidate.full_name: (p.unknown, p.unfilled) for p in problems}
    assert listed == {
        "Alice Able": (["[candidate.nickname]"], []),
        "Bob Baker": (["[candidate.nickname]"], ["[job.title]"]),
        # Carl is on the talent pool only: a pool is not a job, so [job.title] has no value.
        "Carl Cole": (["[candidate.nickname]"], ["[job.title]"]),
    }
    pools = {p.candidate.full_name: p.pool for p in problems}
    assert pools["Carl Cole"].id == team.pool.id  # the summary says why
    assert pools["Bob Baker"] is None  # two offers: ambiguous, not a pool
    assert bulk.problems(found, "About [job.title|our roles]", "Hi", rita, COMPANY, "r@x.test") == []


# create


def test_create_stores_one_queued_message_and_conversation_per_recipient(app, session, team):
    rita = user(team.rita)
    found = bulk.resolve(rita, offers(team.job, team.pool), [])
    sent, ids = create(
        app, rita, found, subject="About [job.title|our roles]", body="Hi [candidate.first_name]"
    )
    assert sent.total == 3
    assert sent.user_id == rita.id
    assert sent.subject == "About [job.title|our roles]"
    messages = [db.session.get(Message, i) for i in ids]
    assert [m.to_addresses for m in messages] == [
        ["alice@outside.test"],
        ["bob@outside.test"],
        ["carl@outside.test"],
    ]
    assert [m.subject for m in messages] == ["About Backend Engineer", "About our roles", "About our roles"]
    assert [m.body_text.strip() for m in messages] == ["Hi Alice", "Hi Bob", "Hi Carl"]
    assert all(m.status == "queued" and m.bulk_id == sent.id for m in messages)
    assert len({m.thread_id for m in messages}) == 3
    # The conversation is about the job it was sent for; Bob's is about neither.
    assert [m.thread.offer_id for m in messages] == [team.job.id, None, team.pool.id]


def test_create_refuses_the_whole_bulk_for_one_candidates_problem(app, session, team, make):
    make.candidate("Zed", offers=[team.job], emails=["zed@outside.test"])  # no last name
    rita = user(team.rita)
    found = bulk.resolve(rita, offers(team.job), [])
    with pytest.raises(bulk.BulkError) as refused:
        create(app, rita, found, body="Dear [candidate.first_name] [candidate.last_name]")
    [problem] = refused.value.problems
    assert problem.candidate.first_name == "Zed"
    assert problem.unfilled == ["[candidate.last_name]"]
    assert db.session.scalar(select(func.count(Message.id))) == 0
    assert db.session.scalar(select(func.count(BulkSend.id))) == 0


def test_create_refuses_no_recipient_no_subject_and_too_many(app, session, team, monkeypatch):
    rita = user(team.rita)
    with pytest.raises(bulk.BulkError) as nobody:
        create(app, rita, bulk.Recipients())
    assert nobody.value.reasons == ["No recipient with an email address: choose an offer or candidates."]
    found = bulk.resolve(rita, offers(team.job), [])
    with pytest.raises(bulk.BulkError) as blank:
        create(app, rita, found, subject=" ")
    assert blank.value.reasons == ["Add a subject."]
    monkeypatch.setattr(bulk, "MAX_RECIPIENTS", 1)
    with pytest.raises(bulk.BulkError) as many:
        create(app, rita, found)
    assert many.value.reasons == ["At most 1 recipients per bulk email."]


# progress


def test_progress_counts_by_status_and_is_done_when_nothing_waits(app, session, team):
    rita = user(team.rita)
    sent, ids = create(app, rita, bulk.resolve(rita, offers(team.job, team.pool), []))
    first, second, third = (db.session.get(Message, i) for i in ids)
    second.status = "scheduled"
    progress = bulk.progress(sent)
    # Waiting for its time is counted apart: the page says when it leaves and offers to cancel.
    assert (progress.counts["queued"], progress.counts["scheduled"]) == (2, 1)
    assert not progress.is_done
    assert not progress.is_waiting_for_time
    first.status, second.status, third.status = "sent", "failed", "sending"
    progress = bulk.progress(sent)
    assert (progress.counts["sent"], progress.counts["failed"], progress.counts["sending"]) == (1, 1, 1)
    assert not progress.is_done
    third.status = "unknown"
    assert bulk.progress(sent).is_done
    assert [m.id for m in bulk.progress(sent).messages] == ids


def test_a_bulk_is_visible_to_its_sender_and_admins_only(app, session, team):
    rita = user(team.rita)
    sent, _ = create(app, rita, bulk.resolve(rita, offers(team.job), []))
    assert bulk.visible_bulk(rita, sent.id) is sent
    assert bulk.visible_bulk(user(team.ada), sent.id) is sent
    assert bulk.visible_bulk(user(team.sam), sent.id) is None
    assert bulk.visible_bulk(rita, 999999) is None
    assert bulk.recent(rita) == [sent]
    assert bulk.recent(user(team.sam)) == []
