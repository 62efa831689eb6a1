"""Two ways: mail sent from Hiremail is copied into the user's own Sent folder (APPEND, \\Seen);
mail written from a shared mailbox (jobs@) into that mailbox's Sent folder.

Each message once: a row in mailbox_appends says it was copied. Should a run stop between the
APPEND and that row's commit, the next one finds the message in the folder by its Message-ID
and only writes the row. Only mail sent after the mailbox was connected is copied.
"""

import imaplib
import logging

from sqlalchemy import select

from webapp.extensions import db
from webapp.mail.sync import imap
from webapp.models import Direction, MailboxAppend, MailboxConnection, Message, SentCopy, Status
from webapp.models.types import utcnow

log = logging.getLogger(__name__)
# Copied per run at most (the next run goes on): a bulk send must not hold one sync forever.
APPEND_LIMIT = 200


def pending(connection: MailboxConnection, limit: int = APPEND_LIMIT) -> list[int]:
    """The mail sent from Hiremail since the mailbox was connected, not yet copied: the user's
    own (not what they wrote from a shared mailbox), or for a shared mailbox what anyone wrote
    from it."""
    copied = select(MailboxAppend.message_id).where(MailboxAppend.connection_id == connection.id)
    shared_addresses = select(MailboxConnection.username).where(MailboxConnection.shared.is_(True))
    whose = (
        Message.from_address == connection.username
        if connection.shared
        else (Message.sender_id == connection.user_id) & Message.from_address.not_in(shared_addresses)
    )
    return list(
        db.session.scalars(
            select(Message.id)
            .join(SentCopy, SentCopy.message_id == Message.id)
            .where(
                whose,
                Message.direction == Direction.OUTBOUND,
                Message.status == Status.SENT,
                Message.sent_at >= connection.connected_at,
                Message.id.not_in(copied),
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


def connections_with_pending() -> list[int]:
    """Mailboxes whose owner has mail sent from Hiremail not yet copied to them."""
    return [c.id for c in db.session.scalars(select(MailboxConnection)) if pending(c, limit=1)]


def append_pending(conn: imaplib.IMAP4, connection_id: int) -> int:
    """Copy the pending sent mail into the Sent folder over `conn`; how many were copied. Commits."""
    connection = db.session.get_one(MailboxConnection, connection_id)
    ids = pending(connection)
    if not ids:
        return 0
    folder = connection.sent_folder or imap.find_sent_folder(conn)
    if folder is None:
        raise imap.MailboxError(imap.ErrorKind.SERVER, "no Sent folder found to copy sent mail into")
    imap.examine(conn, folder)
    done = 0
    for message_id in ids:
        row = db.session.execute(
            select(Message.message_id, Message.sent_at, SentCopy.raw)
            .join(SentCopy, SentCopy.message_id == Message.id)
            .where(Message.id == message_id)
        ).one()
        if not (row.message_id and imap.has_message_id(conn, row.message_id)):
            imap.append(conn, folder, row.raw, row.sent_at)
            done += 1
        db.session.add(
            MailboxAppend(connection_id=connection_id, message_id=message_id, appended_at=utcnow())
        )
        db.session.commit()
    log.info("mailbox %s: %d sent message(s) copied to %s", connection_id, done, folder)
    return done
