"""A first sync's progress: counted on the connection row batch by batch, shown on Settings > Mailbox."""

import time

import pytest
from sqlalchemy import select

from tests.dom import parse
from tests.dovecot import DOVECOT, NOT_INSTALLED
from tests.helpers import add_mailbox
from tests.test_mailbox_sync import RITA, connect, dovecot, mail, team  # noqa: F401  (fixtures)
from webapp.extensions import db
from webapp.models import MailboxConnection

URL = "/settings/mailbox"


def set_progress(app, connection_id: int, done: int | None, total: int | None) -> None:
    with app.app_context():
        connection = db.session.get_one(MailboxConnection, connection_id)
        connection.sync_done, connection.sync_total = done, total
        db.session.commit()


def connected(app, user) -> int:
    """A mailbox connection of this user, stored (never synced here): its id."""
    with app.app_context():
        connection = add_mailbox(user)
        db.session.commit()
        return connection.id


def test_the_settings_page_shows_a_running_sync_and_polls_it(app, client, auth, team):  # noqa: F811
    connection_id = connected(app, team.rita)
    set_progress(app, connection_id, 3200, 10000)
    auth.login(RITA)

    box = parse(client.get(URL).get_data(as_text=True)).find(id="sync-progress")
    assert "Syncing: 3,200 of 10,000 messages" in box.text
    assert box.get("hx-trigger") == "every 2s"
    assert box.get("hx-get").startswith(f"{URL}/progress")
    assert box.one("progress").get("value") == "3200"

    set_progress(app, connection_id, 6400, 10000)
    box = parse(client.get(box.get("hx-get")).get_data(as_text=True)).find(id="sync-progress")
    assert "Syncing: 6,400 of 10,000 messages" in box.text
    assert box.get("hx-trigger") == "every 2s"

    set_progress(app, connection_id, None, None)  # the sync ended
    box = parse(client.get(box.get("hx-get")).get_data(as_text=True)).find(id="sync-progress")
    assert "Sync done" in box.text
    assert box.get("hx-trigger") is None  # polling stops
    page = parse(client.get(URL).get_data(as_text=True))
    assert page.find(id="sync-progress").get("hidden") is not None


def test_a_sync_just_queued_is_watched_until_it_starts(app, client, auth, team):  # noqa: F811
    connected(app, team.rita)
    auth.login(RITA)
    box = parse(client.get(f"{URL}?done=queued").get_data(as_text=True)).find(id="sync-progress")
    assert box.get("hx-trigger") == "every 2s"
    assert "about to start" in box.text
    # Not forever: after its polls it gives up quietly (the page still says when it last synced).
    box = parse(client.get(f"{URL}/progress?wait=1").get_data(as_text=True)).find(id="sync-progress")
    assert box.get("hidden") is not None


def test_the_progress_is_in_french_for_a_french_user(app, client, auth, team):  # noqa: F811
    connection_id = connected(app, team.rita)
    set_progress(app, connection_id, 3200, 10000)
    auth.login(RITA)
    html = client.get(f"{URL}/progress", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    text = parse(html).one(id="sync-progress").text
    assert "Synchronisation : 3 200 messages sur 10 000" in text  # the spaces: narrow no-break


@pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)
def test_a_sync_counts_its_progress_batch_by_batch(app, redis, team, dovecot):  # noqa: F811
    from webapp.jobs.sync import timing
    from webapp.mail.sync.importer import Context
    from webapp.mail.sync.runner import sync_mailbox
    from webapp.services import blob_store, mail_domain, mailbox_vault

    for n in range(4):
        dovecot.deliver(RITA, mail("alice@outside.test", RITA, f"Mail {n}"))
    dovecot.deliver(RITA, mail(RITA, "bob@outside.test", "Sent one"), folder="Sent")
    connection_id = connect(app, team.rita, dovecot)
    seen: list[tuple[int | None, int | None]] = []

    def after_batch(ids: list[int]) -> None:  # called after each committed incoming batch
        row = db.session.execute(
            select(MailboxConnection.sync_done, MailboxConnection.sync_total).where(
                MailboxConnection.id == connection_id
            )
        ).one()
        seen.append(tuple(row))

    with app.app_context():
        ctx = Context(
            store=blob_store(), domain=mail_domain(), on_stored=after_batch, header_batch=2, commit_every=0
        )
        assert sync_mailbox(connection_id, mailbox_vault(), ctx, timing()).imported == 4
        assert seen == [(2, 5), (4, 5)]  # both folders counted before reading: 5 in all
        connection = db.session.get_one(MailboxConnection, connection_id)
        assert (connection.sync_done, connection.sync_total) == (None, None)  # done: nothing shown

        # A sync cut short keeps its count, and the next part goes on from it.
        for n in range(3):
            dovecot.deliver(RITA, mail("bob@outside.test", RITA, f"More {n}"))
        seen.clear()
        ctx.deadline = time.monotonic() - 1  # out of time after the first batch
        assert sync_mailbox(connection_id, mailbox_vault(), ctx, timing()).more
        db.session.expire_all()
        connection = db.session.get_one(MailboxConnection, connection_id)
        assert (connection.sync_done, connection.sync_total) == (2, 3)
        ctx.deadline = None
        sync_mailbox(connection_id, mailbox_vault(), ctx, timing())
        assert seen == [(2, 3), (3, 3)]


@pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)
def test_fetches_within_a_quarter_second_commit_together_and_a_deadline_keeps_what_was_read(
    app,
    redis,
    team,  # noqa: F811
    dovecot,  # noqa: F811
):
    from webapp.jobs.sync import timing
    from webapp.mail.sync.importer import Context
    from webapp.mail.sync.runner import sync_mailbox
    from webapp.models import MailboxFolder
    from webapp.services import blob_store, mail_domain, mailbox_vault

    for n in range(6):
        dovecot.deliver(RITA, mail("alice@outside.test", RITA, f"Mail {n}"))
    connection_id = connect(app, team.rita, dovecot)
    handed: list[list[int]] = []
    with app.app_context():
        # Three header FETCHes of two, one commit: classification gets the six at once.
        ctx = Context(
            store=blob_store(), domain=mail_domain(), on_stored=handed.append, header_batch=2, commit_every=60
        )
        ctx.deadline = time.monotonic() - 1  # out of time after the first FETCH: its two still commit
        report = sync_mailbox(connection_id, mailbox_vault(), ctx, timing())
        assert (report.imported, report.more) == (2, True)
        inbox = db.session.scalars(select(MailboxFolder).where(MailboxFolder.name == "INBOX")).one()
        assert inbox.last_uid == 2
        ctx.deadline = None
        assert sync_mailbox(connection_id, mailbox_vault(), ctx, timing()).imported == 4
        assert [len(ids) for ids in handed] == [2, 4]
