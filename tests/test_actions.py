"""Team actions: archive, read/unread, follow; folder moves for me and a teammate; 404 without access."""

import pytest

from tests.dom import parse
from tests.helpers import row_subjects, unread_count

PANE = {"HX-Request": "true", "HX-Target": "message-pane"}
LIST = {"HX-Request": "true", "HX-Target": "message-list"}


@pytest.fixture
def team(make, make_team):
    t = make_team(
        offers={"job": "Backend", "secret": "Secret"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["job"], "Sam Recruiter": []},
        candidates={"Alice Able": ["job"]},
    )
    t.thread = make.thread("Interview", candidate=t.alice, offer=t.job)
    make.message(t.thread, candidate=t.alice, to_users=[t.rita])
    return t


def subjects(client, auth, user, slug):
    auth.login(user.email)
    html = client.get(f"/mail/{slug}").get_data(as_text=True)
    auth.logout()
    return row_subjects(html)


def post(client, auth, url, headers=PANE):
    return client.post(url, headers={**headers, "X-CSRFToken": auth.csrf_token("/mail/inbox")})


def test_archive_moves_it_for_the_whole_team_and_back(client, auth, team):
    auth.login(team.rita.email)
    response = post(client, auth, f"/mail/inbox/{team.thread.id}/archive")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Move back to the folders" in html
    assert f'id="thread-row-{team.thread.id}" hx-swap-oob="delete"' in html  # leaves the list at once
    assert unread_count(html, "inbox") == 0  # the counts come along, no reload
    auth.logout()
    for user in (team.rita, team.ada):
        assert subjects(client, auth, user, "archived") == ["Interview"]
        assert "Interview" not in subjects(client, auth, user, "candidates")
    assert subjects(client, auth, team.rita, "inbox") == []

    auth.login(team.ada.email)
    post(client, auth, f"/mail/archived/{team.thread.id}/unarchive")
    auth.logout()
    assert subjects(client, auth, team.rita, "inbox") == ["Interview"]
    assert subjects(client, auth, team.ada, "archived") == []


def test_mark_unread_and_read_for_me_only(client, auth, team):
    auth.login(team.rita.email)
    post(client, auth, f"/mail/inbox/{team.thread.id}/read", headers=LIST)
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 0
    html = post(client, auth, f"/mail/inbox/{team.thread.id}/unread?close=1", headers=LIST).get_data(
        as_text=True
    )
    assert unread_count(html, "inbox") == 1
    assert f'id="thread-row-{team.thread.id}" data-thread="{team.thread.id}" class="row is-unread"' in html
    assert "Select a conversation" in html  # the pane closes, or it would read it again at once
    html = post(client, auth, f"/mail/inbox/{team.thread.id}/read", headers=LIST).get_data(as_text=True)
    assert unread_count(html, "inbox") == 0
    auth.logout()
    auth.login(team.ada.email)
    assert unread_count(client.get("/mail/candidates").get_data(as_text=True), "candidates") == 1


def test_follow_candidate_and_offer_fill_the_followed_folders(client, auth, team):
    assert subjects(client, auth, team.rita, "followed-candidates") == []
    auth.login(team.rita.email)
    pane = post(client, auth, f"/candidates/{team.alice.id}/follow?folder=inbox&thread={team.thread.id}")
    assert "Following Alice" in pane.get_data(as_text=True)
    post(client, auth, f"/offers/{team.job.id}/follow?folder=inbox&thread={team.thread.id}")
    auth.logout()
    assert subjects(client, auth, team.rita, "followed-candidates") == ["Interview"]
    assert subjects(client, auth, team.rita, "followed-jobs") == ["Interview"]
    assert subjects(client, auth, team.ada, "followed-candidates") == []  # per user
    auth.login(team.rita.email)
    post(client, auth, f"/candidates/{team.alice.id}/unfollow")
    post(client, auth, f"/offers/{team.job.id}/unfollow")
    auth.logout()
    assert subjects(client, auth, team.rita, "followed-candidates") == []
    assert subjects(client, auth, team.rita, "followed-jobs") == []


def test_every_action_is_404_without_access(client, auth, make, team):
    sue = make.candidate("Sue Secret", offers=[team.secret])
    hidden = make.thread("Secret talk", candidate=sue)
    make.message(hidden, candidate=sue)
    auth.login(team.rita.email)
    for url in (
        f"/mail/candidates/{hidden.id}/archive",
        f"/mail/archived/{hidden.id}/unarchive",
        f"/mail/candidates/{hidden.id}/read",
        f"/mail/candidates/{hidden.id}/unread",
        f"/candidates/{sue.id}/follow",
        f"/candidates/{sue.id}/unfollow",
        f"/offers/{team.secret.id}/follow",
        f"/offers/{team.secret.id}/unfollow",
    ):
        assert post(client, auth, url).status_code == 404, url
    assert client.post(f"/mail/inbox/{team.thread.id}/archive", headers=PANE).status_code == 400  # no CSRF


def test_archive_from_the_list_without_the_pane(client, auth, team):
    auth.login(team.rita.email)
    html = post(client, auth, f"/mail/inbox/{team.thread.id}/archive", headers=LIST).get_data(as_text=True)
    assert f'id="thread-row-{team.thread.id}" hx-swap-oob="delete"' in html
    assert "<html" not in html


def test_mark_unread_without_javascript_stays_unread(client, auth, team):
    """The toolbar's form posts, then lands on the conversation, which a GET never marks read."""
    auth.login(team.rita.email)
    post(client, auth, f"/mail/inbox/{team.thread.id}/read", headers=LIST)
    page = parse(client.get(f"/mail/inbox/{team.thread.id}").get_data(as_text=True))
    form = next(f for f in page.find_all("form") if f.get("action", "").endswith("/unread"))
    token = form.find("input", name="csrf_token").get("value")
    response = client.post(form.get("action"), data={"csrf_token": token})
    assert response.status_code == 302
    landed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert unread_count(landed, "inbox") == 1
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 1
    # Without JavaScript, an explicit button marks it read.
    actions = [f.get("action") for n in parse(landed).find_all("noscript") for f in n.find_all("form")]
    assert any(a.startswith(f"/mail/inbox/{team.thread.id}/read?up_to=") for a in actions)
