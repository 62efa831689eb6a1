"""Folder membership, read instead of computed: one entry per user, folder and conversation."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import Model
from webapp.models.types import UTCDateTime

# Not a folder of the list: every conversation with a message the user may see (drafts,
# cancelled mail and auto-replies aside), archived or not, for searching everywhere.
SEARCH_EVERYWHERE = "all"


class FolderEntry(Model):
    """Conversation `thread_id` is in `folder` for `user_id`, with what its list row shows.

    Derived data: webapp/mail/read/entries.py writes it, in the transaction of every change
    that moves a conversation in or out of a folder, and can rebuild it from the source rows.
    A folder page is one range read of (user, folder) in activity order.
    """

    __tablename__ = "folder_entries"
    __table_args__ = (
        # Read backwards for a page: newest activity first (keyset on activity_at, thread_id).
        Index("ix_folder_entries_page", "user_id", "folder", "activity_at", "thread_id"),
        Index("ix_folder_entries_thread", "thread_id"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    folder: Mapped[str] = mapped_column(String(24), primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True)
    # The conversation's last activity (Thread.last_message_at): the folder's order.
    activity_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The newest message that puts the conversation in this folder: the row's who and what.
    # Indexed: deleting a message (erase, retention) finds its entries without a scan.
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    is_unread: Mapped[bool] = mapped_column(default=False)
    # Of the conversation's messages this user may see: how many, and whether any has a file.
    message_count: Mapped[int] = mapped_column(default=1)
    has_attachments: Mapped[bool] = mapped_column(default=False)


class FolderCount(Model):
    """How many of `user_id`'s conversations in `folder` are unread: the folder list's counters
    (kept for the folders that show a count).

    Derived from folder_entries and kept with them: entries.refresh adds what it changed to
    `unread` (n = n + delta, so two transactions refreshing different conversations of one user
    both count), and entries.rebuild recomputes it. Reading a user's counts is one short range
    of the primary key, however many conversations they have.
    """

    __tablename__ = "folder_counts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    folder: Mapped[str] = mapped_column(String(24), primary_key=True)
    unread: Mapped[int] = mapped_column(default=0)
