"""One URL, two renderings: a fragment for htmx, the full page otherwise."""

import pytest

from tests.dom import parse
from tests.helpers import row_subjects, unread_count


@pytest.fixture
def rita(make, make_team):
    team = make_team(
        offers={"job": "Job A"}, users={"Rita Recruiter": ["job"]}, candidates={"Alice Able": ["job"]}
    )
    rita = team.rita
    rita.thread_id = make.message(candidate=team.alice, to_users=[rita], subject="Hello from Alice").thread_id
    rita.alice = team.alice
    rita.thread = type("ThreadRef", (), {"id": rita.thread_id})()
    return rita


def test_folder_full_page_and_fragment(client, auth, rita):
    auth.login(rita.email)
    page = client.get("/mail/inbox")
    assert "<html" in page.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"]

    fragment = client.get("/mail/inbox", headers={"HX-Request": "true", "HX-Target": "message-list"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert "<html" not in html
    assert 'id="message-list"' in html
    assert "HX-Request" in fragment.headers["Vary"]
    # The nav (counts, active folder) and an empty pane come along out of band.
    assert 'id="folder-nav" class="folders" aria-label="Folders" hx-swap-oob="true"' in html
    assert 'id="message-pane"' in html
    assert html.count('hx-swap-oob="true"') == 2
    assert row_subjects(html) == ["Hello from Alice"]


def test_conversation_full_page_and_pane_fragment(client, auth, rita):
    auth.login(rita.email)
    url = f"/mail/inbox/{rita.thread_id}"
    page = client.get(url).get_data(as_text=True)
    assert "<html" in page
    assert 'class="thread-subject">Hello from Alice' in page
    assert 'id="message-list"' in page  # the list is there on a reload or a shared link

    fragment = client.get(url, headers={"HX-Request": "true", "HX-Target": "message-pane"})
    html = fragment.get_data(as_text=True)
    assert "<html" not in html
    assert 'class="thread-subject">Hello from Alice' in html
    assert "HX-Request" in fragment.headers["Vary"]


def test_history_restore_gets_the_full_page(client, auth, rita):
    auth.login(rita.email)
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true", "HX-Target": "message-list"}
    assert "<html" in client.get("/mail/inbox", headers=headers).get_data(as_text=True)


def test_opening_never_marks_read_the_pane_asks_with_a_post(client, auth, make, rita):
    teammate = make.user("Tess Teammate", role="admin")
    auth.login(rita.email)
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 1
    pane = client.get(
        f"/mail/inbox/{rita.thread_id}", headers={"HX-Request": "true", "HX-Target": "message-pane"}
    )
    page = parse(pane.get_data(as_text=True))
    # A GET (a link from anywhere) changes nothing: still unread, on the page and after it.
    assert unread_count(pane.get_data(as_text=True), "inbox") == 1
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 1
    assert unread_count(client.get(f"/mail/inbox/{rita.thread_id}").get_data(as_text=True), "inbox") == 1
    # The pane marks it read itself, by a POST on load, for the messages it shows.
    trigger = page.find(id="mark-read")
    assert trigger.get("hx-trigger") == "load"
    response = client.post(
        trigger.get("hx-post"),
        headers={
            "HX-Request": "true",
            "HX-Target": "mark-read",
            "X-CSRFToken": auth.csrf_token("/mail/inbox"),
        },
    )
    html = response.get_data(as_text=True)
    # The answer carries the new counts and the row, read and still selected.
    assert unread_count(html, "inbox") == 0
    assert f'id="thread-row-{rita.thread_id}" data-thread="{rita.thread_id}" class="row is-selected"' in html
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 0
    assert unread_count(client.get("/mail/candidates").get_data(as_text=True), "candidates") == 0
    # Read: the pane no longer asks.
    assert 'id="mark-read"' not in client.get(f"/mail/inbox/{rita.thread_id}").get_data(as_text=True)

    auth.logout()
    auth.login(teammate.email)
    assert unread_count(client.get("/mail/candidates").get_data(as_text=True), "candidates") == 1


def test_mail_that_arrives_after_the_pane_was_shown_stays_unread(client, auth, make, rita):
    auth.login(rita.email)
    page = parse(client.get(f"/mail/inbox/{rita.thread_id}").get_data(as_text=True))
    url = page.find(id="mark-read").get("hx-post")
    make.message(rita.thread, candidate=rita.alice, to_users=[rita], subject="Hello again")
    client.post(url, headers={"X-CSRFToken": auth.csrf_token("/mail/inbox")})
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 1


def test_keyset_pagination_loads_the_next_rows(app, client, auth, make, rita):
    alice_job = make.offer("Job B")
    make.grant(rita, alice_job)
    bob = make.candidate("Bob Baker", offers=[alice_job])
    for i in range(7):
        make.message(candidate=bob, subject=f"Mail {i}")
    app.config["PAGE_SIZE"] = 3
    try:
        auth.login(rita.email)
        html = client.get("/mail/candidates").get_data(as_text=True)
        assert row_subjects(html) == ["Mail 6", "Mail 5", "Mail 4"]
        seen = row_subjects(html)
        while 'class="more"' in html:
            next_url = html.split('class="more" hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
            html = client.get(next_url, headers={"HX-Request": "true"}).get_data(as_text=True)
            assert "<html" not in html
            seen += row_subjects(html)
        assert seen == [f"Mail {i}" for i in range(6, -1, -1)] + ["Hello from Alice"]
        # Without htmx the "older" link renders a whole page (it works without JavaScript).
        assert "<html" in client.get(next_url).get_data(as_text=True)
    finally:
        app.config["PAGE_SIZE"] = 50


def test_bad_cursor_is_the_first_page(client, auth, rita):
    auth.login(rita.email)
    html = client.get("/mail/inbox?before=not-a-cursor").get_data(as_text=True)
    assert row_subjects(html) == ["Hello from Alice"]


def test_empty_folder_says_so(client, auth, rita):
    auth.login(rita.email)
    html = client.get("/mail/scheduled").get_data(as_text=True)
    assert "No mail is waiting to be sent later." in html
