"""Pages seen again come from Redis (webapp/page_cache.py), and never show what has changed since.

A list, pane or search seen again with nothing changed costs no SQL beyond the login's own; a
change of any kind (new mail, a rename, another user's action, one's own read state) is on the
next page at once; another session, language or user never gets a page kept for someone else.
"""

import time

import pytest
from sqlalchemy import update

from tests.conftest import AuthActions
from tests.dom import parse
from tests.helpers import counting, open_and_read, row_subjects, unread_count
from webapp.extensions import db
from webapp.models import Candidate, User

LIST = {"HX-Request": "true", "HX-Target": "message-list"}
PANE = {"HX-Request": "true", "HX-Target": "message-pane"}


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend"},
        users={"Rita Recruiter": ["job"], "Sam Recruiter": ["job"]},
        candidates={"Alice Able": ["job"]},
    )


@pytest.fixture
def mail(make, team):
    """Alice's application, to Rita and Sam, unread."""
    return make.message(candidate=team.alice, subject="My application", to_users=[team.rita, team.sam])


def sign_in(client, auth, user) -> None:
    """Sign in and land on the inbox, as a browser does (the session gets its CSRF token there)."""
    auth.login(user.email)
    client.get("/mail/inbox")


def statements_of(app, client, url: str, headers=None) -> tuple[int, str]:
    """How many SQL statements the request runs, and its page."""
    with counting(app) as seen:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(seen), response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/mail/inbox", None),
        ("/mail/inbox", LIST),
        ("/mail/candidates", LIST),
        ("/search?q=application", None),
    ],
)
def test_a_page_seen_again_runs_only_the_logins_statement(app, client, auth, team, mail, url, headers):
    sign_in(client, auth, team.rita)
    first, page = statements_of(app, client, url, headers)
    again, page_again = statements_of(app, client, url, headers)
    assert first > 2
    assert again == 0  # not even the user: the page was drawn for this login, and nothing changed
    assert row_subjects(page_again) == row_subjects(page) == ["My application"]


def test_the_pane_seen_again_is_kept_and_the_same(app, client, auth, team, mail):
    sign_in(client, auth, team.rita)
    url = f"/mail/inbox/{mail.thread_id}"
    first, pane = statements_of(app, client, url, PANE)
    again, pane_again = statements_of(app, client, url, PANE)
    assert again == 0 < first
    assert pane_again == pane


def test_new_mail_is_on_the_next_list(client, auth, make, team, mail):
    auth.login(team.rita.email)
    assert row_subjects(client.get("/mail/inbox", headers=LIST).get_data(as_text=True)) == ["My application"]
    make.message(candidate=team.alice, subject="One more thing", to_users=[team.rita])
    html = client.get("/mail/inbox", headers=LIST).get_data(as_text=True)
    assert row_subjects(html) == ["One more thing", "My application"]


@pytest.mark.parametrize("how", ["object", "statement"])
def test_a_renamed_candidate_is_on_the_next_list(app, client, auth, team, mail, how):
    auth.login(team.rita.email)
    for _ in range(2):  # kept
        assert "Alice Able" in client.get("/mail/inbox", headers=LIST).get_data(as_text=True)
    with app.app_context():
        if how == "object":
            db.session.get(Candidate, team.alice.id).last_name = "Archer"
        else:
            rename = update(Candidate).where(Candidate.id == team.alice.id).values(last_name="Archer")
            db.session.execute(rename)
        db.session.commit()
    html = client.get("/mail/inbox", headers=LIST).get_data(as_text=True)
    assert "Alice Archer" in html
    assert "Alice Able" not in html


def test_reading_changes_the_readers_page_and_keeps_the_others(app, client, auth, team, mail):
    sign_in(client, auth, team.sam)
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 1
    auth.logout()
    sign_in(client, auth, team.rita)
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 1  # kept
    open_and_read(client, auth, f"/mail/inbox/{mail.thread_id}")
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 0
    auth.logout()
    auth.login(team.sam.email)
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 1


def test_another_session_of_the_same_user_gets_its_own_token(app, team, mail):
    pages = []
    for _ in range(2):
        client = app.test_client()
        AuthActions(client).login(team.rita.email)
        client.get("/mail/inbox")
        pages.append(parse(client.get("/mail/inbox").get_data(as_text=True)))  # seen again
    tokens = [page.find("body").get("hx-headers") for page in pages]
    assert tokens[0] != tokens[1]


def test_a_kept_page_has_no_inline_script_and_its_scripts_load(client, auth, team, mail):
    sign_in(client, auth, team.rita)
    page = parse(client.get("/mail/inbox").get_data(as_text=True))  # seen again: kept
    scripts = page.find_all("script")
    assert scripts
    for script in scripts:  # a kept page's nonce would be stale: it needs none
        assert script.get("src", "").startswith("/static/")
        assert not script.text.strip()
        assert client.get(script.get("src")).status_code == 200
    fallback = page.find("script", data_src=True)
    assert client.get(fallback.get("data-src")).status_code == 200  # htmx's local copy


def test_a_language_change_is_not_served_the_other_language(client, auth, team, mail):
    auth.login(team.rita.email)
    english = client.get("/mail/inbox", headers=LIST).get_data(as_text=True)
    assert "Inbox" in client.get("/mail/inbox").get_data(as_text=True)
    french = client.get("/mail/inbox", headers={**LIST, "Accept-Language": "fr"}).get_data(as_text=True)
    assert french != english


def test_a_page_rendered_while_something_changed_is_not_kept(
    app, client, auth, make, team, mail, monkeypatch
):
    from webapp import changes

    auth.login(team.rita.email)
    calls = {"n": 0}
    read = changes.read

    def moving(user_id, also=None):  # another process writes between the page's two readings
        calls["n"] += 1
        if calls["n"] == 2:
            changes._move({changes.team_key()})
        return read(user_id, also)

    monkeypatch.setattr(changes, "read", moving)
    statements_of(app, client, "/mail/inbox", LIST)
    monkeypatch.setattr(changes, "read", read)
    again, _ = statements_of(app, client, "/mail/inbox", LIST)
    assert again > 1  # rendered again: the first was not kept


def test_without_the_cache_every_page_is_rendered(app, client, auth, team, mail, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)
    auth.login(team.rita.email)
    statements_of(app, client, "/mail/inbox", LIST)
    again, _ = statements_of(app, client, "/mail/inbox", LIST)
    assert again > 1


def kept_list(client, auth, user) -> str:
    """Rita's inbox list, seen twice: the second from Redis."""
    sign_in(client, auth, user)
    client.get("/mail/inbox", headers=LIST)
    return client.get("/mail/inbox", headers=LIST).get_data(as_text=True)


def test_a_deactivated_user_is_not_served_their_kept_page(app, client, auth, team, mail):
    assert row_subjects(kept_list(client, auth, team.rita)) == ["My application"]
    with app.app_context():
        db.session.get(User, team.rita.id).is_active_user = False
        db.session.commit()
    response = client.get("/mail/inbox", headers=LIST)
    assert response.status_code == 401  # htmx: sent to the login page
    assert "My application" not in response.get_data(as_text=True)


def test_a_session_signed_out_elsewhere_is_not_served_its_kept_page(app, team, mail):
    first, second = app.test_client(), app.test_client()
    assert row_subjects(kept_list(first, AuthActions(first), team.rita)) == ["My application"]
    AuthActions(second).login(team.rita.email)
    token = AuthActions(second).csrf_token("/mail/inbox")
    assert second.post("/logout", data={"csrf_token": token}).status_code == 302  # everywhere
    response = first.get("/mail/inbox", headers=LIST)
    assert response.status_code == 401
    assert "My application" not in response.get_data(as_text=True)


def test_a_login_too_old_is_not_served_its_kept_page(app, client, auth, team, mail, monkeypatch):
    assert row_subjects(kept_list(client, auth, team.rita)) == ["My application"]
    later = time.time() + app.config["REMEMBER_COOKIE_DURATION"].total_seconds() + 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/mail/inbox", headers=LIST).status_code == 401


def test_a_page_is_kept_for_its_quarter_hour_only(app, client, auth, team, mail, monkeypatch):
    kept_list(client, auth, team.rita)
    with counting(app) as seen:
        client.get("/mail/inbox", headers=LIST)
    assert seen == []
    later = time.time() + 900
    monkeypatch.setattr(time, "time", lambda: later)  # "today" may have changed where Rita is
    with counting(app) as seen:
        client.get("/mail/inbox", headers=LIST)
    assert seen  # drawn again


def test_mail_stored_unclassified_keeps_the_pages_and_shows_once_classified(app, client, auth, team, mail):
    """The listener's rows are in no folder until classified: storing them moves no counter
    (the pages kept stay kept), classifying them does."""
    from tests.mailmaker import raw_mail
    from webapp.mail.inbound.pipeline import classify_stored
    from webapp.receiving.receive import Arrival, receive_many
    from webapp.services import blob_store, mail_domain

    sign_in(client, auth, team.rita)
    statements_of(app, client, "/mail/inbox", LIST)
    with app.app_context():
        raw = raw_mail(to="rita@mail.demo.test", subject="Are you free on Monday?")
        [message_id] = receive_many([Arrival(raw, "smtp", "alice@outside.test", ["rita@mail.demo.test"])])
    again, page = statements_of(app, client, "/mail/inbox", LIST)
    assert again == 0  # still the kept page: nothing it shows changed
    assert row_subjects(page) == ["My application"]
    with app.app_context():
        assert classify_stored(message_id, settings=mail_domain(), store=blob_store()) == "candidate"
    _, page = statements_of(app, client, "/mail/inbox", LIST)
    assert row_subjects(page) == ["Are you free on Monday?", "My application"]
