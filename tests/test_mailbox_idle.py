"""IDLE on a connected mailbox (a real Dovecot): new mail queues a sync within seconds."""

import threading
import time

import pytest

from tests.dovecot import DOVECOT, NOT_INSTALLED
from tests.test_mailbox_recovery import crash
from tests.test_mailbox_sync import RITA, connect, dovecot, mail, subjects, sync, team  # noqa: F401
from webapp.extensions import db
from webapp.jobs.enqueue import mailbox_job_id
from webapp.jobs.idle import make_watcher, watched
from webapp.models import MailboxConnection
from webapp.queues import get_queue

pytestmark = pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)


def watching(app, connection_id: int, re_idle: float):
    """A watcher on the mailbox, its wake-ups recorded (time, id); started, IDLE begun."""
    watcher = make_watcher(app)
    watcher.re_idle = re_idle
    woken: list[float] = []
    event = threading.Event()
    announce = watcher.wake

    def wake(cid: int) -> None:
        announce(cid)
        woken.append(time.monotonic())
        event.set()

    watcher.wake = wake
    with app.app_context():
        watcher.refresh(watched())
    assert watcher.watches[connection_id].idling.wait(10), "IDLE never began"
    return watcher, woken, event


def test_new_mail_is_synced_within_seconds_through_idle(app, redis, team, dovecot):  # noqa: F811
    connection_id = connect(app, team.rita, dovecot)
    assert sync(app, connection_id) == 0
    # IDLE is ended and begun again every 0.5 s here (25 minutes in production): still awake.
    watcher, woken, event = watching(app, connection_id, re_idle=0.5)
    try:
        time.sleep(1.5)
        assert woken == []  # re-IDLE is not mistaken for new mail
        delivered = time.monotonic()
        dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice writes"))
        assert event.wait(5), "no wake-up"
        assert woken[0] - delivered < 2.0
        with app.app_context():
            assert get_queue("sync").get_job_ids() == [mailbox_job_id("sync", connection_id)]
    finally:
        watcher.close()
    assert sync(app, connection_id) == 1
    assert subjects(app) == ["Alice writes"]


def test_idle_comes_back_after_the_server_restarts(app, redis, team, dovecot):  # noqa: F811
    connection_id = connect(app, team.rita, dovecot)
    watcher, woken, event = watching(app, connection_id, re_idle=60)
    try:
        crash(dovecot)
        dovecot.start()
        # Reconnected after a short pause, with a sync asked for (mail may have come meanwhile).
        assert event.wait(10), "no reconnection"
        event.clear()
        assert watcher.watches[connection_id].idling.wait(10)
        dovecot.deliver(RITA, mail("bob@outside.test", RITA, "Bob writes"))
        assert event.wait(5), "no wake-up after the restart"
    finally:
        watcher.close()
    sync(app, connection_id)
    assert subjects(app) == ["Bob writes"]


def test_one_process_holds_a_mailbox_idle(app, redis, team, dovecot):  # noqa: F811
    connection_id = connect(app, team.rita, dovecot)
    first = make_watcher(app)
    second = make_watcher(app)
    try:
        with app.app_context():
            connections = watched()
        first.refresh(connections)
        second.refresh(connections)
        assert list(first.watches) == [connection_id]
        assert second.watches == {}
        first.refresh({})  # disconnected: the IDLE ends and its lease is given back
        second.refresh(connections)
        assert list(second.watches) == [connection_id]
        # The user points the mailbox elsewhere: the IDLE starts afresh with the new settings.
        old = second.watches[connection_id]
        with app.app_context():
            db.session.get_one(MailboxConnection, connection_id).incoming_folder = "Archive"
            db.session.commit()
            second.refresh(watched())
        assert old.stop.is_set()
        assert second.watches[connection_id] is not old
    finally:
        first.close()
        second.close()
