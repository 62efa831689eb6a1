"""CONDSTORE (a real Dovecot): a folder whose HIGHESTMODSEQ did not move is not even opened."""

import time

import pytest
from sqlalchemy import select

from tests.dovecot import DOVECOT, NOT_INSTALLED
from tests.test_mailbox_sync import RITA, connect, dovecot, mail, subjects, sync, team  # noqa: F401
from webapp.extensions import db
from webapp.models import MailboxFolder

pytestmark = pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)


def opened_folders(monkeypatch) -> list[str]:
    """The folders each sync opens (EXAMINE), recorded."""
    from webapp.mail.sync import imap

    opened: list[str] = []
    real = imap.examine

    def examine(conn, folder):
        opened.append(folder)
        return real(conn, folder)

    monkeypatch.setattr(imap, "examine", examine)
    return opened


def test_unchanged_folders_are_not_read_again(app, redis, team, dovecot, monkeypatch):  # noqa: F811
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "First"))
    connection_id = connect(app, team.rita, dovecot)
    opened = opened_folders(monkeypatch)

    assert sync(app, connection_id) == 1
    assert sorted(set(opened)) == ["INBOX", "Sent"]
    with app.app_context():
        modseqs = {f.name: f.highestmodseq for f in db.session.scalars(select(MailboxFolder))}
    assert all(modseqs.values()), modseqs  # Dovecot offers CONDSTORE: each folder's is kept

    opened.clear()
    assert sync(app, connection_id) == 0
    assert opened == []  # nothing changed: neither folder opened, no SEARCH

    dovecot.deliver(RITA, mail("bob@outside.test", RITA, "Second"))
    assert sync(app, connection_id) == 1
    assert opened == ["INBOX"]  # only the folder that changed
    assert subjects(app) == ["First", "Second"]
    with app.app_context():
        inbox = db.session.scalars(select(MailboxFolder).where(MailboxFolder.name == "INBOX")).one()
        assert inbox.highestmodseq > modseqs["INBOX"]


def test_a_sync_cut_short_does_not_mark_its_folder_read(app, redis, team, dovecot):  # noqa: F811
    from webapp.jobs.sync import timing
    from webapp.mail.sync.importer import Context
    from webapp.mail.sync.runner import sync_mailbox
    from webapp.services import blob_store, mail_domain, mailbox_vault

    for n in range(3):
        dovecot.deliver(RITA, mail("alice@outside.test", RITA, f"Mail {n}"))
    connection_id = connect(app, team.rita, dovecot)
    with app.app_context():
        # One message a batch, out of time after the first: the job would queue the next part.
        ctx = Context(
            store=blob_store(),
            domain=mail_domain(),
            on_stored=lambda ids: None,
            header_batch=1,
            commit_every=0,
            deadline=time.monotonic() - 1,
        )
        report = sync_mailbox(connection_id, mailbox_vault(), ctx, timing())
        assert (report.imported, report.more) == (1, True)
        inbox = db.session.scalars(select(MailboxFolder).where(MailboxFolder.name == "INBOX")).one()
        assert (inbox.last_uid, inbox.highestmodseq) == (1, None)
    assert sync(app, connection_id) == 2  # the rest, though the folder's HIGHESTMODSEQ did not move
    assert subjects(app) == ["Mail 0", "Mail 1", "Mail 2"]
