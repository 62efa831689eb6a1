"""The mailbox IDLE process: waits on each connected mailbox's incoming folder, queues a sync on new mail.

A process of its own beside the RQ worker (worker.py supervises it): holding IDLE
connections never takes a worker from the send, classify or sync queues. It only waits and
queues; the sync job does the work (webapp/jobs/sync.py). Every REFRESH_S it picks up the
mailboxes connected or disconnected meanwhile.
"""

import imaplib
import logging
import time

from flask import Flask
from sqlalchemy import select

from webapp import create_app
from webapp.config import Config
from webapp.extensions import db
from webapp.jobs.enqueue import announce_new_mail
from webapp.jobs.sync import timing
from webapp.mail.sync import imap
from webapp.mail.sync.imap import ErrorKind, MailboxError
from webapp.mail.sync.runner import server_of
from webapp.mail.sync.vault import VaultError
from webapp.mail.sync.watch import Watcher
from webapp.models import MailboxConnection
from webapp.observability import configure_logging
from webapp.queues import get_redis
from webapp.services import mailbox_vault

log = logging.getLogger(__name__)
# How often the set of connected mailboxes is read again (and the IDLE leases renewed).
REFRESH_S = 30.0


def watched() -> dict[int, tuple]:
    """The mailboxes to hold an IDLE on, with what they log in with: all connected ones,
    except those whose password was refused (each try would be another failed login)."""
    rows = db.session.execute(
        select(
            MailboxConnection.id,
            MailboxConnection.host,
            MailboxConnection.port,
            MailboxConnection.security,
            MailboxConnection.username,
            MailboxConnection.secret,
            MailboxConnection.incoming_folder,
        ).where(
            MailboxConnection.last_error_kind.is_(None)
            | (MailboxConnection.last_error_kind != ErrorKind.AUTH)
        )
    )
    return {row.id: tuple(row[1:]) for row in rows}


def login_for(app: Flask, connection_id: int):
    """How the IDLE thread of one mailbox logs in: (connection, incoming folder's name)."""

    def login() -> tuple[imaplib.IMAP4, str]:
        # Connected inside the app context: an OAuth mailbox may renew its token (a database write).
        with app.app_context():
            connection = db.session.get(MailboxConnection, connection_id)
            vault = mailbox_vault()
            if connection is None or vault is None:
                raise MailboxError(ErrorKind.SERVER, "the mailbox is gone or its key is missing")
            found = timing()
            try:
                server = server_of(connection, vault, found)
            except VaultError as exc:
                raise MailboxError(ErrorKind.SERVER, str(exc)) from exc
            folder = connection.incoming_folder or "INBOX"
            conn = imap.connect(server, timeout=found.timeout, ca_file=found.ca_file)
        return conn, folder

    return login


def waker(app: Flask):
    """What an IDLE thread calls on new mail: flag it and queue a sync of that mailbox."""

    def wake(connection_id: int) -> None:
        with app.app_context():
            announce_new_mail(connection_id)

    return wake


def make_watcher(app: Flask) -> Watcher:
    """The app's IDLE watcher (not started: `refresh` starts the threads)."""
    with app.app_context():
        redis = get_redis()
    prefix = f"hiremail:{app.config['RQ_QUEUE_PREFIX']}mailbox-idle-"
    return Watcher(redis, prefix, lambda connection_id: login_for(app, connection_id), waker(app))


def run_forever(config: Config | None = None) -> None:
    """The IDLE process: its own app and connections; never dies of an outage (each round retried)."""
    if config is None:
        config = Config()
        configure_logging(config.LOG_LEVEL, config.LOG_FORMAT)
    app = create_app(config)
    watcher = make_watcher(app)
    try:
        while True:
            try:
                with app.app_context():
                    connections = watched()
                watcher.refresh(connections)
            except Exception:  # the database or Redis down: the threads go on, the list waits
                log.exception("mailbox IDLE refresh failed; trying again in %.0f s", REFRESH_S)
            time.sleep(REFRESH_S)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group
        pass
    finally:
        watcher.close()
