"""Each stored message is classified exactly once: never lost, never filed twice."""

import pytest
from sqlalchemy import func, select, update

from tests.mailmaker import raw_mail
from webapp.extensions import db
from webapp.models import Message, MessageRecipient, Thread


def stored(app, raw: bytes) -> int:
    """Store the bytes as an entry point does, without queueing anything."""
    from webapp.mail.inbound.pipeline import store_inbound
    from webapp.services import blob_store

    with app.app_context():
        message_id = store_inbound(raw, store=blob_store(), source="smtp").id
        db.session.commit()
    return message_id


def counts() -> tuple[int, int]:
    return db.session.scalar(select(func.count(Thread.id))), db.session.scalar(
        select(func.count()).select_from(MessageRecipient)
    )


def test_one_commit_files_the_message(app, team):
    from webapp.jobs.classify import classify_job

    message_id = stored(app, raw_mail(attachment=("cv.pdf", b"%PDF-1.4")))
    with app.app_context():
        commits = []
        from sqlalchemy import event

        listener = lambda conn: commits.append(1)  # noqa: E731
        event.listen(db.engine, "commit", listener)
        try:
            assert classify_job(message_id) == "candidate"
        finally:
            event.remove(db.engine, "commit", listener)
        assert len(commits) == 1
        msg = db.session.get(Message, message_id)
        assert msg.thread_id
        assert msg.candidate_id == team.alice.id
        assert len(msg.attachments) == 1


def test_a_message_filed_meanwhile_by_another_worker_keeps_that_outcome(app, team, monkeypatch):
    """The compare-and-set: the second worker writes nothing, not even the thread it would open."""
    from webapp.jobs.classify import classify_job
    from webapp.mail.inbound import pipeline

    message_id = stored(app, raw_mail())
    real_decide = pipeline.decide

    def decide_while_another_worker_files_it(*args, **kwargs):
        decision = real_decide(*args, **kwargs)
        with db.engine.begin() as other:  # another worker, on its own connection
            other.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(outcome="non_candidate", outcome_reason="filed by the other worker")
            )
        return decision

    monkeypatch.setattr(pipeline, "decide", decide_while_another_worker_files_it)
    with app.app_context():
        before = counts()
        assert classify_job(message_id) == "non_candidate"
        assert counts() == before
        msg = db.session.get(Message, message_id)
        assert msg.outcome_reason == "filed by the other worker"
        assert msg.thread_id is None


def test_a_worker_that_dies_half_way_leaves_the_message_for_the_sweep(app, team, monkeypatch):
    """Nothing is committed before the outcome: a crash (not an exception) leaves no trace."""
    from datetime import timedelta

    from webapp.jobs.classify import classify_job
    from webapp.mail.inbound import pipeline

    message_id = stored(app, raw_mail())
    real_file = pipeline.file_decision

    def file_then_die(*args, **kwargs):
        real_file(*args, **kwargs)  # thread, row, recipients written, not committed
        raise SystemExit("the work-horse was killed")

    monkeypatch.setattr(pipeline, "file_decision", file_then_die)
    with app.app_context():
        before = counts()
        with pytest.raises(SystemExit):
            classify_job(message_id)
        assert counts() == before
        assert db.session.get(Message, message_id).outcome is None
        assert pipeline.unclassified_ids(min_age=timedelta(0)) == [message_id]
    monkeypatch.setattr(pipeline, "file_decision", real_file)
    with app.app_context():
        assert classify_job(message_id) == "candidate"


def test_an_exception_while_filing_quarantines_without_half_a_classification(app, team, monkeypatch):
    from webapp.jobs.classify import classify_job
    from webapp.mail.inbound import pipeline

    message_id = stored(app, raw_mail())
    real_file = pipeline.file_decision

    def file_then_fail(*args, **kwargs):
        real_file(*args, **kwargs)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pipeline, "file_decision", file_then_fail)
    with app.app_context():
        before = counts()
        assert classify_job(message_id) == "quarantined"
        assert counts() == before
        msg = db.session.get(Message, message_id)
        assert msg.status == "quarantined"
        assert "disk on fire" in msg.outcome_reason
        assert msg.from_address == "alice@outside.test"
        assert msg.thread_id is None


# ----- the sweep: lost classifications come back, a poison message ends quarantined ------


@pytest.fixture
def sweep_now(app):
    app.config["INBOUND_SWEEP_MIN_AGE"] = 0
    yield
    app.config["INBOUND_SWEEP_MIN_AGE"] = 30


def queued(app) -> list[int]:
    from webapp.queues import get_queue

    with app.app_context():
        return [job.args[0] for job in get_queue("classify").jobs]


def test_the_sweep_leaves_a_message_waiting_behind_a_backlog_alone(app, team, redis, sweep_now):
    from webapp.jobs.classify import sweep_unclassified
    from webapp.jobs.enqueue import enqueue_classify

    message_id = stored(app, raw_mail())
    with app.app_context():
        assert enqueue_classify(message_id)
        assert sweep_unclassified() == 0
        assert db.session.get(Message, message_id).classify_requeues == 0
    assert queued(app) == [message_id]  # queued once, not once per sweep


def test_a_message_that_keeps_killing_its_worker_ends_quarantined(app, team, redis, sweep_now):
    """Each sweep finds its job gone without an outcome (the work-horse died): it is queued
    again, MAX_REQUEUES times, then kept quarantined for an admin instead of retried forever."""
    from rq.job import Job

    from webapp.jobs.classify import sweep_unclassified
    from webapp.mail.inbound.pipeline import MAX_REQUEUES
    from webapp.queues import get_queue

    message_id = stored(app, raw_mail())
    for attempt in range(1, MAX_REQUEUES + 1):
        with app.app_context():
            assert sweep_unclassified() == 1
            assert db.session.get(Message, message_id).classify_requeues == attempt
            (job,) = get_queue("classify").jobs
            get_queue("classify").remove(job)
            Job.fetch(job.id, connection=redis).set_status("failed")  # as RQ marks a dead work-horse's job
    with app.app_context():
        assert sweep_unclassified() == 0
        msg = db.session.get(Message, message_id)
        assert msg.outcome == "quarantined"
        assert msg.status == "quarantined"
        assert msg.raw_sha256
        assert "never finished" in msg.outcome_reason
    assert queued(app) == []


def test_a_classified_message_is_not_requeued_by_a_late_sweep(app, team, redis, sweep_now):
    from webapp.jobs.classify import classify_job
    from webapp.mail.inbound.pipeline import requeue_or_give_up

    message_id = stored(app, raw_mail())
    with app.app_context():
        assert classify_job(message_id) == "candidate"
        requeue_or_give_up([message_id])  # listed just before the job filed it
        msg = db.session.get(Message, message_id)
        assert msg.outcome == "candidate"
        assert msg.classify_requeues == 0
