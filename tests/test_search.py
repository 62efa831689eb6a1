"""Search: sender, recipients, subject, body; never a message the user may not see."""

import pytest

from tests.helpers import row_subjects

LIST = {"HX-Request": "true", "HX-Target": "message-list"}


@pytest.fixture
def team(make, make_team):
    t = make_team(
        offers={"job": "Backend", "secret": "Secret"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["job"]},
        candidates={"Alice Able": ["job"], "Sue Secret": ["secret"]},
    )
    make.message(candidate=t.alice, subject="Kubernetes experience", body_text="I ran clusters at Zalando.")
    make.message(candidate=t.sue, subject="Kubernetes secret project", body_text="Zalando too.")
    make.message(
        direction="outbound",
        sender=t.rita,
        candidate=t.alice,
        subject="Offer letter",
        to_addresses=["alice@outside.test"],
        body_text="Salary details",
    )
    archived = make.thread("Old archived chat", candidate=t.alice, archived=True)
    make.message(archived, candidate=t.alice, body_text="about Rust")
    make.message(subject="Sponsor pitch", from_address="events@meetup.test", body_text="sponsorship")
    return t


def search(client, auth, user, query, folder="all"):
    auth.login(user.email)
    response = client.get("/search", query_string={"q": query, "folder": folder}, headers=LIST)
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    auth.logout()
    return sorted(row_subjects(response.get_data(as_text=True)))


def test_finds_by_subject_body_sender_and_recipient(client, auth, team):
    assert search(client, auth, team.rita, "kubernetes") == ["Kubernetes experience"]
    assert search(client, auth, team.rita, "zaland") == ["Kubernetes experience"]  # prefix of a body word
    assert search(client, auth, team.rita, "salary") == ["Offer letter"]
    assert search(client, auth, team.rita, "alice@outside.test") == [
        "Kubernetes experience",
        "Offer letter",
        "Old archived chat",
    ]
    assert search(client, auth, team.rita, "meetup") == ["Sponsor pitch"]


def test_finds_an_address_by_its_domain_or_as_typed_so_far(client, auth, team):
    alices = ["Kubernetes experience", "Offer letter", "Old archived chat"]
    assert search(client, auth, team.rita, "outside.test") == alices  # a domain: who wrote from it
    assert search(client, auth, team.rita, "alice@outs") == alices  # an address typed halfway
    assert search(client, auth, team.rita, "events@meetup.test") == ["Sponsor pitch"]
    assert search(client, auth, team.rita, "meetup.test") == ["Sponsor pitch"]
    assert search(client, auth, team.rita, "alice@meetup.test") == []  # the parts, in their order


def test_never_returns_what_the_user_cannot_see(client, auth, team):
    assert search(client, auth, team.rita, "secret") == []
    assert search(client, auth, team.rita, "sue@outside.test") == []
    assert search(client, auth, team.ada, "kubernetes") == [
        "Kubernetes experience",
        "Kubernetes secret project",
    ]


def test_folder_filter_and_archived(client, auth, team):
    assert search(client, auth, team.rita, "rust") == ["Old archived chat"]  # all folders include archived
    assert search(client, auth, team.rita, "rust", folder="candidates") == []
    assert search(client, auth, team.rita, "rust", folder="archived") == ["Old archived chat"]
    assert search(client, auth, team.rita, "offer", folder="sent") == ["Offer letter"]


def test_operators_and_junk_are_plain_text(client, auth, team):
    for junk in [
        '"',
        "NOT",
        "a OR b",
        "*",
        "kubernetes)",
        "(zalando",
        "'; DROP TABLE messages; --",
        "NEAR(x y)",
    ]:
        search(client, auth, team.rita, junk)  # no error, whatever it finds
    assert search(client, auth, team.rita, "kubernetes)") == ["Kubernetes experience"]


def test_search_page_renders_fully_and_unknown_folder_is_404(client, auth, team):
    auth.login(team.rita.email)
    page = client.get("/search?q=kubernetes").get_data(as_text=True)
    assert "<html" in page
    assert "Results for “kubernetes”" in page
    assert client.get("/search?q=x&folder=nope").status_code == 404


def test_a_search_the_database_cuts_off_says_so_instead_of_failing(client, auth, team, monkeypatch):
    """PostgreSQL's statement timeout ends a runaway search: the user reads why, not a 500."""
    from sqlalchemy.exc import OperationalError

    from webapp.mail.read import folders

    def cut_off(*args, **kwargs):
        raise OperationalError("SELECT ...", {}, Exception("canceling statement due to statement timeout"))

    monkeypatch.setattr(folders, "list_rows", cut_off)
    auth.login(team.rita.email)
    response = client.get("/search?q=kubernetes", headers=LIST)
    assert response.status_code == 200
    assert "This search took too long" in response.get_data(as_text=True)
    monkeypatch.undo()
    assert client.get("/mail/inbox").status_code == 200  # the session is usable again


@pytest.mark.parametrize("start_from", ["index", "folder"])
def test_pages_of_a_search_skip_conversations_found_only_by_a_message_the_user_may_not_see(
    app, make, team, monkeypatch, start_from
):
    """A colleague's scheduled mail in a conversation I see is not mine to search, on any page.

    Both ways a search reads: from the index's matching conversations (a rare word), or the
    folder's conversations in order (a common word).
    """
    from webapp.extensions import db
    from webapp.mail.read import folders
    from webapp.mail.read.search import matching
    from webapp.models import Thread, User

    older = make.message(candidate=team.alice, subject="Zebra two")
    newer = make.message(candidate=team.alice, subject="Zebra one")
    hidden = make.message(candidate=team.alice, subject="Plain")
    with app.app_context():
        hidden_thread = db.session.get_one(Thread, hidden.thread_id)
    make.message(
        hidden_thread,
        direction="outbound",
        sender=team.ada,
        candidate=team.alice,
        status="scheduled",
        subject="Zebra hidden",
        to_addresses=["alice@outside.test"],
    )
    few = 10_000 if start_from == "index" else 0
    monkeypatch.setattr(folders, "_few_messages", lambda wanted: few)
    with app.app_context():
        rita = db.session.get_one(User, team.rita.id)
        pages, before = [], None
        for _ in range(4):
            rows, more = folders.list_rows(
                "candidates", rita, before=before, limit=1, match=matching("zebra")
            )
            pages.append([r.thread.id for r in rows])
            if not more:
                break
            before = (rows[-1].thread.last_message_at, rows[-1].thread.id)
        assert pages == [[newer.thread_id], [older.thread_id]]
        ada = db.session.get_one(User, team.ada.id)
        rows, _ = folders.list_rows("candidates", ada, limit=10, match=matching("zebra"))
        assert hidden.thread_id in {r.thread.id for r in rows}  # the author finds it
