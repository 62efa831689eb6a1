"""Real `python worker.py` processes with the RQ scheduler, against this run's Redis."""

import os
import signal
import time
from datetime import timedelta

import pytest
from rq import Worker

from tests.sinks import start_worker, stop_worker, worker_env
from tests.test_outbound import create, drain_once, load
from webapp.jobs.enqueue import queue_drain, wake_sender
from webapp.models.types import utcnow


@pytest.fixture
def env(app, redis_url, smtp):
    return worker_env(app, redis_url, SMTP_URL=smtp.url, PERIODIC_INTERVAL=1, SEND_RECONCILE_GRACE=2)


def schedule(app, at):
    """Wake a worker at `at`, as compose does after storing a message to send then."""
    with app.app_context():
        assert wake_sender(at=at)


def wait_status(app, message_id, status, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if load(app, message_id).status == status:
            return True
        time.sleep(0.1)
    return False


def test_send_later_leaves_at_its_time_not_before(app, team, smtp, env):
    due = utcnow() + timedelta(seconds=4)
    msg = create(app, team.rita, send_at=due)
    schedule(app, due)
    worker = start_worker(env)
    try:
        time.sleep(2)
        assert smtp.messages == []
        assert load(app, msg.id).status == "scheduled"
        assert wait_status(app, msg.id, "sent"), stop_worker(worker)
    finally:
        log = stop_worker(worker)
    [got] = smtp.messages
    assert got.at >= due.timestamp() - 0.05, log
    assert load(app, msg.id).sent_at >= due


def test_cancel_wins_over_a_later_send(app, team, smtp, env):
    from webapp.extensions import db
    from webapp.mail.outbound import compose

    due = utcnow() + timedelta(seconds=2)
    msg = create(app, team.rita, send_at=due)
    schedule(app, due)
    with app.app_context():
        assert compose.cancel(msg.id, team.rita.id)
        db.session.commit()
    worker = start_worker(env)
    try:
        time.sleep(4.5)
    finally:
        stop_worker(worker)
    assert smtp.messages == []
    assert load(app, msg.id).status == "draft"  # cancelled: back to its author as a draft, never sent


def test_edit_changes_what_is_sent(app, team, smtp, env):
    from webapp.extensions import db
    from webapp.mail.outbound import compose
    from webapp.mail.outbound.compose import Compose
    from webapp.models import User
    from webapp.services import mail_domain

    due = utcnow() + timedelta(seconds=2)
    msg = create(app, team.rita, send_at=due)
    schedule(app, due)
    with app.app_context():
        edit = Compose(to=["alice@outside.test"], subject="Updated time", body="Now at 3pm", send_at=due)
        rita = db.session.get(User, team.rita.id)
        assert compose.update_scheduled(msg.id, rita, edit, mail_domain().domain)
        db.session.commit()
    worker = start_worker(env)
    try:
        assert wait_status(app, msg.id, "sent")
    finally:
        stop_worker(worker)
    [got] = smtp.messages
    assert b"Subject: Updated time" in got.data
    assert b"Now at 3pm" in got.data


def test_two_workers_same_due_message_one_delivery(app, team, smtp, env):
    messages = [create(app, team.rita, subject=f"Race {i}") for i in range(40)]
    with app.app_context():
        # A drain per message, the two workers racing down the same due messages.
        for _ in messages:
            queue_drain(force=True)
    workers = [start_worker(env, "--burst"), start_worker(env, "--burst")]
    for w in workers:
        w.wait(timeout=180)  # generous: CI machines are shared
    logs = [stop_worker(w) for w in workers]
    assert all(load(app, m.id).status == "sent" for m in messages), logs
    subjects = sorted(m.data.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0] for m in smtp.messages)
    assert subjects == sorted(f"Race {i}".encode() for i in range(40))  # each exactly once


def test_redis_flushed_after_scheduling_still_sends_once(app, team, smtp, env, redis):
    due = utcnow() + timedelta(seconds=1)
    msg = create(app, team.rita, send_at=due)
    schedule(app, due)
    from tests.conftest import forget_our_keys

    forget_our_keys(app, redis)  # as if Redis were flushed: the queue entry is gone, only the row knows
    worker = start_worker(env)
    try:
        assert wait_status(app, msg.id, "sent", timeout=20), stop_worker(worker)
        time.sleep(1.5)  # another reconciler round must not send it again
    finally:
        stop_worker(worker)
    assert len(smtp.messages) == 1


def test_candidate_reply_threads_onto_the_sent_message(app, team, smtp, env):
    """What we send, answered by the candidate through the inbound pipeline, joins its thread."""
    from email import message_from_bytes, policy

    from tests.mailmaker import raw_mail
    from tests.test_inbound import outcome

    msg = create(app, team.rita, subject="Interview on Tuesday")
    assert drain_once(app) == 1
    sent = message_from_bytes(smtp.messages[0].data, policy=policy.default)
    # A client that keeps the headers...
    result, reply = outcome(
        app, raw_mail(subject="Re: Interview on Tuesday", to=sent["Reply-To"], in_reply_to=sent["Message-ID"])
    )
    assert result == "reply"
    assert reply.thread_id == msg.thread_id
    # ...and one that drops them: the reply address alone finds the conversation.
    result, bare = outcome(app, raw_mail(subject="my answer", to=sent["Reply-To"], body="Tuesday is fine"))
    assert result == "reply"
    assert bare.thread_id == msg.thread_id


def test_a_drain_whose_worker_died_no_longer_holds_up_due_mail(app, redis):
    """Issue 11: RQ lists a killed worker's job as started for minutes more; the reconciler
    must not take it for a drain on its way, or due mail waits for the entry to expire."""
    from rq import Worker
    from rq.executions import Execution

    from webapp.jobs.enqueue import SEND_DUE_JOB
    from webapp.jobs.send import drain_waiting
    from webapp.queues import get_queue

    with app.app_context():
        queue = get_queue("send")
        job = queue.enqueue(SEND_DUE_JOB)
        queue.remove(job)  # a worker took it...
        worker = Worker([queue], connection=redis, name=f"{app.config['RQ_QUEUE_PREFIX']}crashing")
        worker.register_birth()  # ...this process, alive
        with redis.pipeline() as pipe:
            job.prepare_for_execution(worker.name, pipe)
            Execution.create(job, ttl=600, pipeline=pipe, worker_name=worker.name)
            pipe.execute()
        assert drain_waiting()
        redis.hset(worker.key, "pid", 4_194_304 + 1)  # kill -9: its hash stays, its process is gone
        assert not drain_waiting()
        redis.hset(worker.key, "pid", os.getpid())
        job.heartbeat(utcnow() - timedelta(seconds=60), ttl=600)  # or its heartbeats stopped
        assert not drain_waiting()
        worker.register_death()


def child_pids(proc) -> set[int]:
    """The supervisor's live children (not multiprocessing's resource tracker, not a zombie)."""
    import psutil

    pids = set()
    for child in psutil.Process(proc.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                pids.add(child.pid)
        except psutil.Error:  # gone meanwhile
            continue
    return pids


def test_the_supervisor_starts_a_dead_periodic_process_again(app, env, redis):
    """Issue 11: a periodic process that died (an outage, kill -9) is started again, and
    /readyz reads its heartbeat."""
    from webapp.queue_health import last_periodic_beat

    # Not serving the sync queue: no mailbox IDLE process, the two children are told apart.
    worker = start_worker(env, "send", "classify", "default")
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(child_pids(worker)) < 2:
            time.sleep(0.2)
        with app.app_context():
            while time.time() < deadline and last_periodic_beat() is None:
                time.sleep(0.2)
            assert last_periodic_beat() is not None
        rq_pids: set = set()
        while time.time() < deadline and not rq_pids:  # the RQ worker once it has registered
            rq_pids = {w.pid for w in Worker.all(connection=redis)} & child_pids(worker)
            time.sleep(0.2)
        [periodic_pid] = child_pids(worker) - rq_pids
        os.kill(periodic_pid, signal.SIGKILL)
        while time.time() < deadline and (periodic_pid in child_pids(worker) or len(child_pids(worker)) < 2):
            time.sleep(0.2)
        assert periodic_pid not in child_pids(worker)
        assert len(child_pids(worker)) == 2
        assert worker.poll() is None
    finally:
        log = stop_worker(worker, timeout=30)
    assert "periodic stopped (exit code -9); starting it again" in log


def test_a_worker_serving_sync_also_runs_the_mailbox_idle_process(env):
    """Issue 13: IDLE on the mailboxes has its own process, beside the RQ worker and the periodic one."""
    worker = start_worker(env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(child_pids(worker)) < 3:
            time.sleep(0.2)
        assert len(child_pids(worker)) == 3
        assert worker.poll() is None
    finally:
        log = stop_worker(worker, timeout=30)
    assert "stopped (exit code" not in log
