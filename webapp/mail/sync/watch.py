"""IDLE on each connected mailbox's incoming folder: new mail is synced within seconds, not minutes.

One thread per mailbox holds an IMAP connection in IDLE (RFC 2177) on the incoming folder
and calls `wake(connection_id)` when the server says EXISTS (the caller queues a sync: the
sync itself runs in the sync queue, never here). IDLE is ended and started again every
RE_IDLE_S, under the 29 minutes after which servers may drop an idle client. A lost
connection is opened again after a growing pause, then a sync is asked for (mail may have
come meanwhile). A server without IDLE is left to the periodic polling (runner.py's
interval and backoff).

With several worker processes, one holds a mailbox's IDLE: a lease in Redis, renewed while
it runs, taken over by another process once it lapses.
"""

import imaplib
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from redis import Redis

from webapp.mail.sync import imap
from webapp.mail.sync.imap import MailboxError

log = logging.getLogger(__name__)
# IDLE is started again this often (RFC 2177: servers may log a client out after 30 minutes).
RE_IDLE_S = 25 * 60
# After a failure the connection is opened again after 1, 2, 4... seconds, up to this.
MAX_PAUSE_S = 300.0
# A mailbox's IDLE lease lasts this long; the manager renews it three times as often.
LEASE_S = 90


@dataclass
class Watch:
    """One mailbox's IDLE thread and how to stop it."""

    connection_id: int
    thread: threading.Thread
    stop: threading.Event = field(default_factory=threading.Event)
    settings: object = None  # what it logged in with (server, user, folder): a change restarts it
    idle_offered: bool = True  # False once the server said it has no IDLE: polled instead
    idling: threading.Event = field(default_factory=threading.Event)  # set while in IDLE


def watch_mailbox(
    connection_id: int,
    login: Callable[[], tuple[imaplib.IMAP4, str]],
    wake: Callable[[int], None],
    stop: threading.Event,
    *,
    re_idle: float = RE_IDLE_S,
    watch: Watch | None = None,
) -> None:
    """Hold an IDLE on the mailbox's incoming folder until `stop`, calling `wake` on new mail.

    `login` gives a logged-in connection and the incoming folder's name (it raises
    MailboxError, kept for the sync to report: this thread only waits and tries again).
    """
    failures = 0
    while not stop.is_set():
        conn = None
        try:
            conn, folder = login()
            if not imap.offers(conn, "IDLE"):
                log.info("mailbox %s: the server offers no IDLE; polled instead", connection_id)
                if watch is not None:
                    watch.idle_offered = False
                return
            imap.examine(conn, folder)
            if failures:
                wake(connection_id)  # mail may have come while the connection was down
            failures = 0
            if watch is not None:
                watch.idling.set()
            while not stop.is_set():
                if imap.idle(conn, re_idle, stop):
                    wake(connection_id)
        except (MailboxError, OSError, EOFError, imaplib.IMAP4.error) as exc:
            failures += 1
            pause = min(MAX_PAUSE_S, 2.0 ** (failures - 1))
            log.info("mailbox %s IDLE lost (%s); again in %.0f s", connection_id, exc, pause)
            stop.wait(pause)
        except Exception:  # a bug must not end the watch for good: log it, pause, go on
            failures += 1
            log.exception("mailbox %s IDLE failed", connection_id)
            stop.wait(min(MAX_PAUSE_S, 2.0 ** (failures - 1)))
        finally:
            if watch is not None:
                watch.idling.clear()
            if conn is not None:
                imap.logout(conn)


class Watcher:
    """Keeps one IDLE thread per connected mailbox this process holds the lease of."""

    def __init__(
        self,
        redis: Redis,
        lease_prefix: str,
        login_for: Callable[[int], Callable[[], tuple[imaplib.IMAP4, str]]],
        wake: Callable[[int], None],
        *,
        re_idle: float = RE_IDLE_S,
    ):
        self.redis = redis
        self.lease_prefix = lease_prefix
        self.login_for = login_for
        self.wake = wake
        self.re_idle = re_idle
        self.token = uuid.uuid4().hex
        self.watches: dict[int, Watch] = {}

    def _lease(self, connection_id: int) -> bool:
        """Take or renew the mailbox's lease; whether this process holds it."""
        key = f"{self.lease_prefix}{connection_id}"
        if self.redis.set(key, self.token, nx=True, ex=LEASE_S):
            return True
        if self.redis.get(key) in (self.token, self.token.encode()):
            self.redis.expire(key, LEASE_S)
            return True
        return False

    def _release(self, connection_id: int) -> None:
        key = f"{self.lease_prefix}{connection_id}"
        if self.redis.get(key) in (self.token, self.token.encode()):
            self.redis.delete(key)

    def refresh(self, connections: Mapping[int, object]) -> None:
        """Watch these mailboxes (id: their settings; those leased here), stop watching the others.

        A mailbox whose settings changed (another server, user, password or folder) is
        watched afresh: its old IDLE would go on watching what the user left.
        """
        for connection_id, running in list(self.watches.items()):
            if connection_id not in connections or running.settings != connections[connection_id]:
                self._stop(connection_id, release=connection_id not in connections)
        for connection_id in sorted(connections):
            watch = self.watches.get(connection_id)
            if watch is not None and not watch.idle_offered:
                continue  # no IDLE on that server: polled
            if not self._lease(connection_id):
                if watch is not None:  # another process took it over (this one stalled)
                    self._stop(connection_id, release=False)
                continue
            if watch is None or not watch.thread.is_alive():
                self._start(connection_id, connections[connection_id])

    def _start(self, connection_id: int, settings: object = None) -> None:
        stop = threading.Event()
        watch = Watch(connection_id, threading.Thread(), stop, settings)
        watch.thread = threading.Thread(
            target=watch_mailbox,
            args=(connection_id, self.login_for(connection_id), self.wake, stop),
            kwargs={"re_idle": self.re_idle, "watch": watch},
            name=f"idle-{connection_id}",
            daemon=True,
        )
        self.watches[connection_id] = watch
        watch.thread.start()

    def _stop(self, connection_id: int, release: bool = True) -> None:
        watch = self.watches.pop(connection_id)
        watch.stop.set()
        if release:
            self._release(connection_id)

    def close(self, timeout: float = 5.0) -> None:
        """Stop every IDLE (each ends its IDLE with DONE and logs out)."""
        watches = list(self.watches.values())
        for connection_id in list(self.watches):
            self._stop(connection_id)
        for watch in watches:
            watch.thread.join(timeout)
