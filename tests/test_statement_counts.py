"""The hot views cost a fixed number of SQL statements, whatever the size of the mailbox."""

import pytest

from tests.helpers import counting
from webapp.models import Direction

LIST = {"HX-Request": "true", "HX-Target": "message-list"}
PANE = {"HX-Request": "true", "HX-Target": "message-pane"}


@pytest.fixture(autouse=True)
def rendered(app, monkeypatch):
    """Every request renders: pages kept in Redis (webapp/page_cache.py) would cost one statement."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)


@pytest.fixture
def rita(client, auth, team):
    auth.login(team.rita.email)
    return team.rita


def conversation(make, team, length: int) -> int:
    """A conversation with Alice of `length` messages, each way in turn, one with a file."""
    thread = make.thread("Interview", candidate=team.alice, offer=team.job)
    for i in range(length):
        if i % 2:
            make.message(thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
        else:
            make.message(
                thread, candidate=team.alice, to_users=[team.rita], attachment="cv.pdf" if i else None
            )
    return thread.id


def statements(app, client, url: str, headers=None) -> int:
    client.get(url, headers=headers)  # once to warm caches (the user loader, the templates)
    with counting(app) as seen:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(seen)


def test_the_pane_costs_the_same_for_a_long_conversation(app, client, make, team, rita):
    short = conversation(make, team, 4)
    long = conversation(make, team, 16)
    few = statements(app, client, f"/mail/candidates/{short}", PANE)
    many = statements(app, client, f"/mail/candidates/{long}", PANE)
    assert few == many
    assert many <= 10


def test_a_folder_page_costs_the_same_with_more_conversations(app, client, make, team, rita):
    for _ in range(3):
        conversation(make, team, 2)
    few = {
        "page": statements(app, client, "/mail/candidates"),
        "list": statements(app, client, "/mail/candidates", LIST),
    }
    for _ in range(12):
        conversation(make, team, 3)
    many = {
        "page": statements(app, client, "/mail/candidates"),
        "list": statements(app, client, "/mail/candidates", LIST),
    }
    assert few == many
    assert many["list"] <= 8
