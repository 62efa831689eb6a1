"""Team actions: archive, read/unread, follow; folder moves for me and a teammate; 404 without access."""

import pytest

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
    client.get(f"/mail/inbox/{team.thread.id}")  # opening marks it read
    assert unread_count(client.get("/mail/inbox").get_data(as_text=True), "inbox") == 0
    html = post(client, auth, f"/mail/inbox/{team.thread.id}/unread?close=1", headers=LIST).get_data(
        as_text=True
    )
    assert unread_count(html, "inbox") == 1
    assert f'id="thread-row-{team.thread.id}" data-thread="{team.thread.id}" class="row is-unread"' in html
    assert "Select a conversation" in html  # the pane closes, or it would read it again
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
