"""A sync against trouble (a real Dovecot): the server gone mid-sync, a Sent folder renumbered."""

import contextlib
import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.dovecot import DOVECOT, NOT_INSTALLED
from tests.test_mailbox_sync import RITA, connect, dovecot, mail, subjects, sync, team  # noqa: F401  (fixtures)
from webapp.extensions import db
from webapp.models import Direction, MailboxConnection, MailboxFolder, Message

pytestmark = pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)


def crash(server) -> None:
    """Stop the server with its IMAP processes killed, as a crash does (a plain stop lets them finish)."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    server.stop()
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), signal.SIGKILL)


def test_a_server_gone_mid_sync_loses_and_repeats_nothing(app, redis, team, dovecot):  # noqa: F811
    from webapp.jobs.sync import timing
    from webapp.mail.sync.importer import Context
    from webapp.mail.sync.runner import sync_mailbox
    from webapp.services import blob_store, mail_domain, mailbox_vault

    for n in range(5):
        dovecot.deliver(RITA, mail("alice@outside.test", RITA, f"Mail {n}"))
    connection_id = connect(app, team.rita, dovecot)

    def server_dies(ids: list[int]) -> None:  # after the first batch's commit
        crash(dovecot)

    with app.app_context():
        ctx = Context(
            store=blob_store(), domain=mail_domain(), on_stored=server_dies, header_batch=2, commit_every=0
        )
        assert sync_mailbox(connection_id, mailbox_vault(), ctx, timing()) is None  # failed
        connection = db.session.get_one(MailboxConnection, connection_id)
        assert connection.last_error_kind == "unreachable"
        inbox = db.session.scalars(select(MailboxFolder).where(MailboxFolder.name == "INBOX")).one()
        assert inbox.last_uid == 2  # the first batch stands, with its two messages
        assert db.session.scalar(select(func.count(Message.id))) == 2
    dovecot.start()
    assert sync(app, connection_id) == 3  # the rest, nothing twice
    assert subjects(app) == [f"Mail {n}" for n in range(5)]


def test_a_renumbered_sent_folder_is_read_again_without_duplicates(app, redis, team, dovecot):  # noqa: F811
    dovecot.deliver(RITA, mail(RITA, "alice@outside.test", "Interview slot"), folder="Sent")
    connection_id = connect(app, team.rita, dovecot)
    assert sync(app, connection_id) == 1
    dovecot.stop()
    dovecot.change_uidvalidity(RITA, "Sent")
    dovecot.start()
    dovecot.deliver(RITA, mail(RITA, "bob@outside.test", "Offer details"), folder="Sent")

    assert sync(app, connection_id) == 1
    assert subjects(app, direction=Direction.OUTBOUND) == ["Interview slot", "Offer details"]
    with app.app_context():
        sent = db.session.scalars(select(MailboxFolder).where(MailboxFolder.name == "Sent")).one()
        assert sent.last_uid == 2


def test_our_disk_full_mid_sync_says_so_and_loses_nothing(
    app,
    client,
    auth,
    redis,
    team,  # noqa: F811
    dovecot,  # noqa: F811
    monkeypatch,
):
    import errno

    from webapp.mail.storage import BlobStore

    for n in range(3):
        dovecot.deliver(RITA, mail("alice@outside.test", RITA, f"Mail {n}"))
    connection_id = connect(app, team.rita, dovecot)
    real_put = BlobStore.put

    def disk_full(self, data, *, durable=True):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(BlobStore, "put", disk_full)
    assert sync(app, connection_id) == 0  # failed: nothing imported
    with app.app_context():
        connection = db.session.get_one(MailboxConnection, connection_id)
        assert connection.last_error_kind == "storage"  # ours, not "the server could not be reached"
        assert db.session.scalar(select(func.count(Message.id))) == 0
        inbox = db.session.scalars(select(MailboxFolder).where(MailboxFolder.name == "INBOX")).one()
        assert inbox.last_uid == 0  # the batch did not commit: its mail is read again
    auth.login(team.rita.email)
    page = client.get("/settings/mailbox").get_data(as_text=True)
    assert "its own disk is full" in page
    assert "No space left on device" in page
    assert "could not be reached" not in page

    monkeypatch.setattr(BlobStore, "put", real_put)  # room again
    assert sync(app, connection_id) == 3
    assert subjects(app) == [f"Mail {n}" for n in range(3)]
