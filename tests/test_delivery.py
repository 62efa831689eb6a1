"""Draining due mail: one connection, oldest first, one job for many messages, exactly once."""

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select

from tests.sinks import ROOT
from tests.test_outbound import create, drain_once, load
from webapp.extensions import db
from webapp.jobs.enqueue import wake_sender
from webapp.jobs.send import hand_over_marks, reconcile_job
from webapp.mail.outbound import delivery
from webapp.mail.outbound.delivery import HandOverMarks
from webapp.mail.outbound.transport import transport_for
from webapp.models import Message
from webapp.models.types import utcnow
from webapp.services import blob_store, mail_domain


def subjects(smtp) -> list[str]:
    return [m.data.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode() for m in smtp.messages]


def send_jobs(app) -> tuple[list, list]:
    """(queued send jobs, scheduled send job ids) in this run's Redis."""
    from rq.registry import ScheduledJobRegistry

    from webapp.queues import get_queue

    with app.app_context():
        queue = get_queue("send")
        return queue.jobs, ScheduledJobRegistry(queue=queue).get_job_ids()


def test_one_drain_sends_everything_due_oldest_first_over_one_connection(app, team, smtp, redis):
    due = [create(app, team.rita, subject=f"Due {i}") for i in range(5)]
    later = create(app, team.rita, subject="Tomorrow", send_at=utcnow() + timedelta(days=1))
    cancelled = create(app, team.rita, subject="Cancelled", send_at=utcnow() + timedelta(hours=1))
    with app.app_context():
        row = db.session.get(Message, cancelled.id)
        row.status, row.scheduled_at = "cancelled", utcnow() - timedelta(minutes=1)
        db.session.commit()

    assert drain_once(app) == 5
    assert subjects(smtp) == [f"Due {i}" for i in range(5)]
    assert len({m.peer for m in smtp.messages}) == 1  # one SMTP session for all five
    assert all(load(app, m.id).status == "sent" for m in due)
    assert load(app, later.id).status == "scheduled"
    assert load(app, cancelled.id).status == "cancelled"
    assert drain_once(app) == 0
    assert len(smtp.messages) == 5


def test_sending_now_queues_one_wake_up_for_many_messages(app, team, smtp, redis):
    for i in range(30):
        create(app, team.rita, subject=f"Bulk {i}")
    with app.app_context():
        for _ in range(30):  # as thirty composes would, each after its commit
            assert wake_sender()
    [wake], _ = send_jobs(app)
    with app.app_context():
        assert wake.perform() == 30
    assert sorted(subjects(smtp)) == sorted(f"Bulk {i}" for i in range(30))
    with app.app_context():  # the drain took the flag down: the next message wakes a worker again
        assert wake_sender()
    assert len(send_jobs(app)[0]) == 2


def test_messages_due_the_same_second_share_one_scheduled_job(app, team, redis):
    at = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    with app.app_context():
        for offset in (0, 0, 0, 1):
            msg = create(app, team.rita, send_at=at + timedelta(seconds=offset))
            assert wake_sender(at=msg.scheduled_at)
    queued, scheduled = send_jobs(app)
    assert queued == []
    assert len(scheduled) == 2


def test_an_unreachable_server_pauses_the_drain_without_spending_the_others_attempts(app, team, redis):
    first, second = create(app, team.rita, subject="First"), create(app, team.rita, subject="Second")
    app.config["SMTP_URL"] = "smtp://127.0.0.1:1"  # nothing listens there
    try:
        assert drain_once(app) == 0
    finally:
        app.config["SMTP_URL"] = None
    tried, waiting = load(app, first.id), load(app, second.id)
    assert tried.status == "queued"
    assert tried.scheduled_at > utcnow()
    assert tried.send_attempts == 1
    assert "ConnectionRefusedError" in tried.error
    assert waiting.status == "queued"
    assert waiting.send_attempts == 0
    assert waiting.error is None
    _, scheduled = send_jobs(app)
    assert len(scheduled) == 1  # a drain comes back when the retry is due


def test_a_permanent_refusal_fails_that_message_and_the_drain_goes_on(app, team, make, smtp, redis):
    make.candidate("Bob Baker", offers=[team.job], emails=["bob@outside.test"])
    smtp.handler.refuse["alice@outside.test"] = "550 5.1.1 No such user"
    refused = create(app, team.rita, subject="To Alice")
    fine = create(app, team.rita, to=["bob@outside.test"], subject="To Bob")
    assert drain_once(app) == 1
    assert load(app, refused.id).status == "failed"
    assert "No such user" in load(app, refused.id).error
    assert load(app, fine.id).status == "sent"
    assert subjects(smtp) == ["To Bob"]


def test_a_new_connection_after_the_per_connection_limit(app, team, smtp, redis, monkeypatch):
    from webapp.mail.outbound.transport import SmtpTransport

    monkeypatch.setattr(SmtpTransport, "MESSAGES_PER_CONNECTION", 2)
    for i in range(5):
        create(app, team.rita, subject=f"M{i}")
    assert drain_once(app) == 5
    assert len({m.peer for m in smtp.messages}) == 3


def test_reconciler_wakes_a_worker_only_when_no_drain_is_waiting(app, team, redis):
    msg = create(app, team.rita)
    with app.app_context():
        assert reconcile_job() == 0  # just queued: its wake-up has not had time yet
        # Queued a minute ago, and its wake-up lost (Redis flushed).
        db.session.get(Message, msg.id).created_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        assert db.session.scalar(select(Message.status).where(Message.id == msg.id)) == "queued"
        assert reconcile_job() == 1
        assert reconcile_job() == 0  # the wake-up it queued is waiting: not another one
    queued, _ = send_jobs(app)
    assert [j.func_name for j in queued] == ["webapp.jobs.send.send_due_job"]


def claims_of(message_ids) -> list[tuple]:
    """(id, claim time) of claimed messages, as the worker's marks name them."""
    rows = db.session.execute(
        select(Message.id, Message.send_started_at).where(Message.id.in_(message_ids)).order_by(Message.id)
    )
    return [tuple(row) for row in rows]


def reconciler_gives_back(marks: HandOverMarks, claim: tuple) -> delivery.Reconciled:
    """The reconciler, finding `claim` stalled (and only it), takes its mark and puts it back in the queue."""

    class OnlyThatClaim(HandOverMarks):
        def take(self, message_id, claimed_at):
            return (message_id, claimed_at) == claim and super().take(message_id, claimed_at)

    stalled = utcnow() + delivery.RELEASE_AFTER + timedelta(seconds=1)
    found = delivery.reconcile(now=stalled, marks=OnlyThatClaim(marks.redis, marks.prefix))
    assert found.released == [claim[0]]
    return found


def test_a_dead_workers_unsent_messages_go_back_and_only_the_one_in_flight_is_unknown(app, team, redis):
    made = [create(app, team.rita, subject=f"Batch {i}") for i in range(3)]
    with app.app_context():
        claimed = delivery.claim_batch(10)
        assert claimed == [m.id for m in made]
        marks, claims = hand_over_marks(), claims_of(claimed)
        marks.set(claims)
        assert marks.take(*claims[0])  # the worker was handing the first one over when it died
        stalled = utcnow() + delivery.RELEASE_AFTER + timedelta(seconds=1)
        found = delivery.reconcile(now=stalled, marks=marks)
        assert found.released == claimed[1:]
        assert found.unknown == []
        later = delivery.reconcile(
            now=utcnow() + delivery.SENDING_TIMEOUT + timedelta(seconds=1), marks=marks
        )
        assert later.unknown == [claimed[0]]
    assert [load(app, m.id).status for m in made] == ["unknown", "queued", "queued"]
    assert [load(app, m.id).send_attempts for m in made] == [1, 0, 0]  # never tried: not counted


def test_a_stalled_workers_late_take_cannot_take_a_later_claims_mark(app, team, redis):
    msg = create(app, team.rita)
    with app.app_context():
        marks = hand_over_marks()
        [first] = claims_of(delivery.claim_batch(10))
        marks.set([first])
        reconciler_gives_back(marks, first)  # the reconciler takes its mark and gives it back...
        [second] = claims_of(delivery.claim_batch(10))  # ...and another worker claims it again
        marks.set([second])
        assert second[1] != first[1]
        assert not marks.take(*first)  # the stalled worker, waking up, finds nothing of its own
        assert marks.take(*second)  # the new claim's mark is still there for its worker
    assert load(app, msg.id).status == "sending"


def test_a_worker_never_sends_what_the_reconciler_gave_back(app, team, smtp, redis):
    class StalledWorker(HandOverMarks):
        def set(self, claims):
            super().set(claims)
            # The worker stalls here; the reconciler gives the second message back...
            reconciler_gives_back(HandOverMarks(self.redis, self.prefix), claims[1])

    for i in range(3):
        create(app, team.rita, subject=f"Slow {i}")
    with app.app_context():
        claimed = delivery.claim_batch(10)
        marks = hand_over_marks()
        transport = transport_for(app.config)
        # ...and the worker, waking up, sends only what is still its own.
        stalled = StalledWorker(marks.redis, marks.prefix)
        outcomes = delivery.send_claimed(claimed, transport, mail_domain(), blob_store(), stalled)
        transport.close()
    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert subjects(smtp) == ["Slow 0", "Slow 2"]
    assert drain_once(app) == 1  # the one given back leaves once, with the next drain
    assert sorted(subjects(smtp)) == ["Slow 0", "Slow 1", "Slow 2"]


def test_no_redis_gives_the_batch_back_unsent(app, team, smtp, redis):
    class Down:
        def set(self, ids):
            raise ConnectionError("Redis is down")

    made = [create(app, team.rita, subject=f"M{i}") for i in range(2)]
    with app.app_context():
        claimed = delivery.claim_batch(10)
        outcomes = delivery.send_claimed(
            claimed, transport_for(app.config), mail_domain(), blob_store(), Down()
        )
    assert {o.status for o in outcomes} == {"released"}
    assert outcomes[0].stop
    assert smtp.messages == []
    assert all(load(app, m.id).status == "queued" for m in made)


def test_an_admin_downloads_exactly_what_the_server_received(app, team, make, smtp, redis, client, auth):
    import hashlib

    ada = make.user("Ada Admin", role="admin")
    msg = create(app, team.rita, subject="Kept as sent", attachments=[])
    assert drain_once(app) == 1
    [got] = smtp.messages
    sent = load(app, msg.id)
    assert sent.raw_sha256 == hashlib.sha256(got.data).hexdigest()
    assert sent.raw_size == len(got.data)
    auth.login(ada.email)
    download = client.get(f"/admin/messages/{msg.id}/raw")
    assert download.status_code == 200
    assert download.data == got.data


def test_a_claim_takes_no_more_than_its_batch_the_oldest_first(app, team, redis):
    made = [create(app, team.rita, subject=f"M{i}") for i in range(5)]
    with app.app_context():
        assert delivery.claim_batch(2) == [made[0].id, made[1].id]
        assert delivery.claim_batch(2) == [made[2].id, made[3].id]
    assert [load(app, m.id).status for m in made] == ["sending"] * 4 + ["queued"]


class _DropsAfterTheBody:
    """An SMTP server that takes a whole message, then hangs up instead of answering 250."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"smtp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.bodies = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 drops ESMTP\r\n")
                for line in lines:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 drops\r\n")
                    elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                        conn.sendall(b"250 OK\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        for body_line in lines:
                            if body_line == b".\r\n":
                                break
                        self.bodies += 1
                        break  # hang up: the client cannot know whether we kept it
                    else:
                        conn.sendall(b"221 bye\r\n")
                        break

    def close(self):
        self.sock.close()


def test_a_connection_lost_after_the_body_is_unknown_not_retried(app, team, redis):
    server = _DropsAfterTheBody()
    msg = create(app, team.rita, subject="Maybe delivered")
    app.config["SMTP_URL"] = server.url
    try:
        assert drain_once(app) == 0
    finally:
        app.config["SMTP_URL"] = None
        server.close()
    assert server.bodies == 1
    row = load(app, msg.id)
    assert row.status == "unknown"
    assert "after the message was sent" in row.error
    assert row.send_attempts == 1
    assert send_jobs(app)[1] == []


def test_jobs_are_queued_by_a_path_that_names_them():
    from werkzeug.utils import import_string

    from webapp.jobs import classify, enqueue, send

    assert import_string(enqueue.SEND_DUE_JOB) is send.send_due_job
    assert import_string(enqueue.CLASSIFY_JOB) is classify.classify_job


def test_the_enqueue_module_imports_no_job_module():
    """Job modules import the enqueue module, never the reverse: no cycle to hide in a function."""
    check = (
        "import sys, webapp.jobs.enqueue; print(sorted(m for m in sys.modules if "
        "m.startswith('webapp.jobs')))"
    )
    found = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "['webapp.jobs', 'webapp.jobs.enqueue']"
