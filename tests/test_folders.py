"""Folder membership, exactly as the folder rules in docs/folders.md say, in both directions."""

import pytest

from tests.helpers import row_subjects
from webapp.models import Direction


@pytest.fixture
def world(make_team):
    """A small team: rita on job A and pool P, sam on job B, job S for admins only."""
    return make_team(
        offers={"job_a": "Job A", "job_b": "Job B", "job_s": "Job S"},
        pools={"pool": "Pool P"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["job_a", "pool"], "Sam Recruiter": ["job_b"]},
        candidates={
            "Alice Able": ["job_a"],
            "Bob Baker": ["job_b"],
            "Sue Secret": ["job_s"],
            "Paul Pool": ["pool"],
            "Una Unplaced": [],
        },
    )


def folder_subjects(client, auth, user, slug):
    auth.login(user.email)
    response = client.get(f"/mail/{slug}")
    assert response.status_code == 200
    subjects = row_subjects(response.get_data(as_text=True))
    auth.logout()
    return subjects


def test_inbox_has_candidate_mail_addressed_to_me_only(client, auth, make, world):
    make.message(candidate=world.alice, to_users=[world.rita], subject="To rita from Alice")
    make.message(candidate=world.alice, to_users=[world.ada], subject="To ada from Alice")
    make.message(to_users=[world.rita], subject="From a stranger", from_address="x@stranger.test")
    make.message(candidate=world.bob, to_users=[world.rita], subject="Bob on a job rita cannot see")
    make.message(
        candidate=world.alice, to_users=[world.rita], subject="Just an auto-reply", is_auto_reply=True
    )
    archived = make.thread("Archived chat", candidate=world.alice, archived=True)
    make.message(archived, candidate=world.alice, to_users=[world.rita])

    assert folder_subjects(client, auth, world.rita, "inbox") == ["To rita from Alice"]
    assert folder_subjects(client, auth, world.ada, "inbox") == ["To ada from Alice"]
    assert folder_subjects(client, auth, world.sam, "inbox") == []


def test_sent_has_my_sent_and_failed_mail_not_scheduled(client, auth, make, world):
    make.message(direction=Direction.OUTBOUND, sender=world.rita, candidate=world.alice, subject="Sent one")
    make.message(
        direction=Direction.OUTBOUND,
        sender=world.rita,
        candidate=world.alice,
        subject="Failed one",
        status="failed",
        error="550 no such user",
    )
    make.message(
        direction=Direction.OUTBOUND,
        sender=world.rita,
        candidate=world.alice,
        subject="Later",
        status="scheduled",
    )
    make.message(direction=Direction.OUTBOUND, sender=world.sam, candidate=world.bob, subject="Sam's")
    make.message(
        direction=Direction.OUTBOUND, sender=world.rita, subject="To a vendor", from_address="rita@mail.test"
    )
    archived = make.thread("Archived but sent", candidate=world.alice, archived=True)
    make.message(archived, direction=Direction.OUTBOUND, sender=world.rita, candidate=world.alice)

    subjects = folder_subjects(client, auth, world.rita, "sent")
    assert subjects == ["Archived but sent", "To a vendor", "Failed one", "Sent one"]
    auth.login(world.rita.email)
    page = client.get("/mail/sent").get_data(as_text=True)
    assert "chip-failed" in page


def test_scheduled_mail_leaves_send_later_once_sent(app, client, auth, make, world):
    msg = make.message(
        direction=Direction.OUTBOUND,
        sender=world.rita,
        candidate=world.alice,
        subject="Due tomorrow",
        status="scheduled",
    )
    assert folder_subjects(client, auth, world.rita, "scheduled") == ["Due tomorrow"]
    assert folder_subjects(client, auth, world.sam, "scheduled") == []
    assert "Due tomorrow" not in folder_subjects(client, auth, world.rita, "sent")
    assert "Due tomorrow" not in folder_subjects(client, auth, world.ada, "candidates")

    from webapp.extensions import db
    from webapp.mail.read import entries
    from webapp.models import Message

    with app.app_context():
        db.session.get(Message, msg.id).status = "sent"  # as the delivery drain would
        entries.refresh([msg.thread_id])
        db.session.commit()
    assert folder_subjects(client, auth, world.rita, "scheduled") == []
    assert folder_subjects(client, auth, world.rita, "sent") == ["Due tomorrow"]


def test_all_candidates_follows_offer_access(client, auth, make, world):
    make.message(candidate=world.alice, to_users=[world.ada], subject="Alice (job A)")
    make.message(candidate=world.bob, to_users=[world.sam], subject="Bob (job B)")
    make.message(candidate=world.sue, to_users=[world.ada], subject="Sue (job S)")
    make.message(candidate=world.paul, subject="Paul (pool)")
    make.message(subject="Stranger mail", from_address="x@stranger.test")
    unplaced = make.thread("Una, rita wrote", candidate=world.una)
    make.message(unplaced, direction=Direction.OUTBOUND, sender=world.rita, candidate=world.una)
    auto = make.thread("Only an auto-reply", candidate=world.alice)
    make.message(auto, candidate=world.alice, is_auto_reply=True)

    assert sorted(folder_subjects(client, auth, world.rita, "candidates")) == [
        "Alice (job A)",
        "Paul (pool)",
        "Una, rita wrote",
    ]
    assert folder_subjects(client, auth, world.sam, "candidates") == ["Bob (job B)"]
    assert sorted(folder_subjects(client, auth, world.ada, "candidates")) == [
        "Alice (job A)",
        "Bob (job B)",
        "Paul (pool)",
        "Sue (job S)",
        "Una, rita wrote",
    ]


def test_followed_candidates_only_those_i_follow_and_can_see(client, auth, make, world):
    make.message(candidate=world.alice, subject="Alice mail")
    make.message(candidate=world.paul, subject="Paul mail")
    make.message(candidate=world.sue, subject="Sue mail")
    make.follow(world.rita, world.alice)
    make.follow(world.rita, world.sue)  # followed, but on a job rita cannot access

    assert folder_subjects(client, auth, world.rita, "followed-candidates") == ["Alice mail"]
    assert folder_subjects(client, auth, world.sam, "followed-candidates") == []


def test_followed_jobs_only_offers_i_follow_and_can_access(client, auth, make, world):
    make.message(candidate=world.alice, subject="Alice mail")
    make.message(candidate=world.bob, subject="Bob mail")
    make.message(candidate=world.paul, subject="Paul mail")
    make.follow(world.rita, world.job_a)
    make.follow(world.rita, world.pool)
    make.follow(world.rita, world.job_b)  # followed, but no access
    make.follow(world.ada, world.job_b)

    assert sorted(folder_subjects(client, auth, world.rita, "followed-jobs")) == ["Alice mail", "Paul mail"]
    assert folder_subjects(client, auth, world.ada, "followed-jobs") == ["Bob mail"]
    assert folder_subjects(client, auth, world.sam, "followed-jobs") == []


def test_non_candidates_team_wide_and_never_candidate_mail(client, auth, make, world):
    make.message(to_users=[world.rita], subject="Agency pitch", from_address="jane@agency.test")
    make.message(
        direction=Direction.OUTBOUND,
        sender=world.ada,
        subject="Invoice question",
        from_address="ada@mail.test",
    )
    make.message(candidate=world.alice, subject="Alice mail")
    old = make.thread("Archived vendor mail", archived=True)
    make.message(old, from_address="billing@vendor.test")
    make.message(subject="A CV", is_cv=True, cv_offer_id=world.job_a.id, from_address="cv@agency.test")

    for user in (world.ada, world.rita, world.sam):
        assert sorted(folder_subjects(client, auth, user, "non-candidates")) == [
            "Agency pitch",
            "Invoice question",
        ]
    assert "Agency pitch" not in folder_subjects(client, auth, world.rita, "inbox")


def test_archived_has_archived_conversations_i_could_see(client, auth, make, world):
    a = make.thread("Alice archived", candidate=world.alice, archived=True)
    make.message(a, candidate=world.alice, to_users=[world.rita])
    s = make.thread("Sue archived", candidate=world.sue, archived=True)
    make.message(s, candidate=world.sue)
    v = make.thread("Vendor archived", archived=True)
    make.message(v, from_address="billing@vendor.test")
    make.message(candidate=world.alice, subject="Alice live")

    assert sorted(folder_subjects(client, auth, world.rita, "archived")) == [
        "Alice archived",
        "Vendor archived",
    ]
    assert sorted(folder_subjects(client, auth, world.ada, "archived")) == [
        "Alice archived",
        "Sue archived",
        "Vendor archived",
    ]
    assert folder_subjects(client, auth, world.sam, "archived") == ["Vendor archived"]
    assert "Alice archived" not in folder_subjects(client, auth, world.rita, "candidates")


def test_incoming_cv_by_job_access_company_inbox_admins_only(client, auth, make, world):
    make.message(subject="CV for job A", is_cv=True, cv_offer_id=world.job_a.id, from_address="a@agency.test")
    make.message(subject="CV for job B", is_cv=True, cv_offer_id=world.job_b.id, from_address="b@agency.test")
    make.message(subject="CV to the company", is_cv=True, from_address="c@example.test")
    from webapp.models.types import utcnow

    make.message(subject="Processed CV", is_cv=True, cv_offer_id=world.job_a.id, cv_processed_at=utcnow())

    assert folder_subjects(client, auth, world.rita, "incoming-cv") == ["CV for job A"]
    assert folder_subjects(client, auth, world.sam, "incoming-cv") == ["CV for job B"]
    assert sorted(folder_subjects(client, auth, world.ada, "incoming-cv")) == [
        "CV for job A",
        "CV for job B",
        "CV to the company",
    ]
    assert "CV for job A" not in folder_subjects(client, auth, world.ada, "non-candidates")


def test_unplaced_candidate_seen_only_by_people_in_the_conversation(client, auth, make, world):
    t = make.thread("Una talks to rita", candidate=world.una)
    make.message(t, direction=Direction.OUTBOUND, sender=world.rita, candidate=world.una)
    make.message(t, candidate=world.una, to_users=[world.rita])

    assert folder_subjects(client, auth, world.rita, "inbox") == ["Una talks to rita"]
    assert folder_subjects(client, auth, world.sam, "candidates") == []
    assert folder_subjects(client, auth, world.ada, "candidates") == ["Una talks to rita"]


def test_conversations_newest_activity_first(client, auth, make, world):
    old = make.thread("Older", candidate=world.alice)
    make.message(old, candidate=world.alice)
    make.message(candidate=world.alice, subject="Newer")
    make.message(old, candidate=world.alice)  # a reply makes "Older" the newest activity
    assert folder_subjects(client, auth, world.rita, "candidates") == ["Older", "Newer"]


def test_unknown_folder_is_404(client, auth, world):
    auth.login(world.rita.email)
    assert client.get("/mail/spam").status_code == 404
