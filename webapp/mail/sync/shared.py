"""Shared mailboxes (jobs@, talent@): who their mail reaches, and the name shown beside it.

A shared mailbox's incoming mail is stored as delivered to the mailbox's own address and to
the personal address of each user it is shared with: classification then makes them its
recipients, so it reaches their Inbox, under the usual rule that they may see the candidate
(a user never sees, through a shared mailbox, a candidate of an offer they have no access to).
"""

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Direction, MailboxConnection, MailboxShare, Message, User


def sharing_users(connection_id: int) -> list[User]:
    """The active users a shared mailbox is shared with, by name."""
    return list(
        db.session.scalars(
            select(User)
            .join(MailboxShare, MailboxShare.user_id == User.id)
            .where(MailboxShare.connection_id == connection_id, User.is_active_user.is_(True))
            .order_by(User.name)
        )
    )


def delivered_to(connection: MailboxConnection, owner: User, domain: str) -> list[str]:
    """The envelope recipients of the mailbox's incoming mail: its owner's address, or for a
    shared mailbox its own address and its users' personal addresses."""
    if not connection.shared:
        return [owner.inbound_address(domain)]
    own = [connection.username.lower()] if "@" in connection.username else []
    return own + [user.inbound_address(domain) for user in sharing_users(connection.id)]


def all_shared_names() -> dict[str, str]:
    """Every shared mailbox's address (lower case) and name."""
    rows = db.session.execute(
        select(MailboxConnection.username, MailboxConnection.name).where(MailboxConnection.shared.is_(True))
    ).all()
    return {row.username.lower(): row.name or row.username for row in rows}


def sendable_for(user_id: int) -> list[MailboxConnection]:
    """The shared mailboxes this user may write from (shared with them, named by an address), by name."""
    return [
        c
        for c in db.session.scalars(
            select(MailboxConnection)
            .join(MailboxShare, MailboxShare.connection_id == MailboxConnection.id)
            .where(MailboxShare.user_id == user_id, MailboxConnection.shared.is_(True))
            .order_by(MailboxConnection.name)
        )
        if "@" in c.username
    ]


def last_used(user_id: int, mailboxes: list[MailboxConnection]) -> MailboxConnection | None:
    """The shared mailbox the user's latest mail was written from, if one of these (compose keeps it)."""
    if not mailboxes:
        return None
    latest = db.session.scalar(
        select(Message.from_address)
        .where(Message.sender_id == user_id, Message.direction == Direction.OUTBOUND)
        .order_by(Message.id.desc())
        .limit(1)
    )
    wanted = (latest or "").lower()
    return next((c for c in mailboxes if c.username.lower() == wanted), None)
