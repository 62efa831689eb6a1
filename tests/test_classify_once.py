"""Each stored message is classified exactly once: never lost, never filed twice."""

import os
import time

import pytest
from sqlalchemy import func, select, update

from tests.helpers import counting, stored
from tests.mailmaker import raw_mail
from webapp.extensions import db
from webapp.models import Message, MessageRecipient, Thread

# SQLite: a message is decided under the one write lock (the two copies of a mail must be
# decided one after the other), so no other worker can file it meanwhile. The
# compare-and-set that guards against that is tested on PostgreSQL.
postgresql_only = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="SQLite: nobody can file the message meanwhile (it is decided under the write lock)",
)


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


@postgresql_only
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


# ----- drains: claimed in batches, safe twice, killed mid-batch, poison quarantined -------


def age_claims(app, seconds: float = 600) -> None:
    """As if every claim had been taken `seconds` ago (its drain died long since)."""
    from datetime import timedelta

    from webapp.models.types import utcnow

    with app.app_context():
        db.session.execute(
            update(Message)
            .where(Message.classify_claimed_at.is_not(None))
            .values(classify_claimed_at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()


def outcomes(app, ids) -> list:
    with app.app_context():
        return [db.session.get(Message, i).outcome for i in ids]


def test_a_drain_classifies_every_stored_message_once(app, team, redis):
    from webapp.jobs.classify import classify_due_job

    ids = [stored(app, raw_mail(subject=f"Hello {i}")) for i in range(7)]
    with app.app_context():
        assert classify_due_job() == 7
        assert classify_due_job() == 0  # run twice: nothing left, nothing filed again
        assert counts() == (7, 7)
    assert outcomes(app, ids) == ["candidate"] * 7


def test_two_drains_never_claim_the_same_message(app, team):
    from webapp.mail.inbound.pipeline import claim_unclassified

    ids = [stored(app, raw_mail(subject=f"Hello {i}")) for i in range(5)]
    with app.app_context():
        first = claim_unclassified(3)
        second = claim_unclassified(3)
        assert claim_unclassified(3) == []
    assert first == ids[:3]
    assert second == ids[3:]


def test_a_lingering_drain_classifies_mail_arriving_while_it_waits(app, team):
    """A burst arriving a few messages at a time is drained as it comes, by the same drain."""
    from webapp.mail.inbound.pipeline import drain_unclassified
    from webapp.services import blob_store, mail_domain

    first = stored(app, raw_mail(subject="First"))
    later = []

    def arrival_then_other_work() -> bool:
        if not later:  # mail arrives while the drain waits for more
            later.append(stored(app, raw_mail(subject="Later")))
            return False
        return True  # then a job waits in another queue: the drain gives its worker back

    with app.app_context():
        started = time.monotonic()
        done = drain_unclassified(
            settings=mail_domain(),
            store=blob_store(),
            budget=60,
            linger=30,
            stop_lingering=arrival_then_other_work,
        )
        assert done.count == 2
        assert time.monotonic() - started < 10  # it did not wait out its 30 s of lingering
    assert outcomes(app, [first, *later]) == ["candidate", "candidate"]


def test_a_drain_killed_mid_batch_leaves_its_claims_for_a_later_drain(app, team):
    """A live claim is left alone; once stale, the messages come back (each alone), counted."""
    from webapp.mail.inbound.pipeline import claim_unclassified, drain_unclassified
    from webapp.services import blob_store, mail_domain

    ids = [stored(app, raw_mail(subject=f"Hello {i}")) for i in range(3)]
    with app.app_context():
        assert claim_unclassified(10) == ids  # ...and the drain is killed here
        done = drain_unclassified(settings=mail_domain(), store=blob_store(), budget=10)
        assert done.count == 0  # its claims are still fresh: maybe it is only slow
    age_claims(app)
    with app.app_context():
        done = drain_unclassified(settings=mail_domain(), store=blob_store(), budget=10)
        assert done.count == 3
        assert [db.session.get(Message, i).classify_requeues for i in ids] == [1, 1, 1]
    assert outcomes(app, ids) == ["candidate"] * 3


def test_a_drain_looks_for_lost_claims_first_at_its_start_then_only_when_nothing_else_is_left(app, team):
    """A claim goes stale after minutes: a drain claiming every few messages does not ask for
    stale ones (two statements) at each claim."""
    from webapp.mail.inbound import pipeline
    from webapp.services import blob_store, mail_domain

    ids = [stored(app, raw_mail(subject=f"Hello {i}")) for i in range(12)]
    with app.app_context(), counting(app) as statements:
        done = pipeline.drain_unclassified(settings=mail_domain(), store=blob_store(), budget=60, batch=2)
    assert done.count == 12
    assert outcomes(app, ids) == ["candidate"] * 12
    # The spent ones and the stale ones at the first of 7 claims, and at the last, which finds nothing.
    assert sum("classify_requeues" in s for s in statements) == 4


def test_a_message_that_keeps_killing_its_worker_ends_quarantined_alone(app, team):
    """Claimed again MAX_REQUEUES times, then kept quarantined for an admin, never retried
    forever; the messages claimed beside it the first time are classified as usual."""
    from webapp.mail.inbound.pipeline import MAX_REQUEUES, claim_unclassified, drain_unclassified
    from webapp.services import blob_store, mail_domain

    poison, *others = [stored(app, raw_mail(subject=f"Hello {i}")) for i in range(3)]
    with app.app_context():
        assert claim_unclassified(10) == [poison, *others]  # the worker dies on the first
    for _ in range(MAX_REQUEUES):
        age_claims(app)
        with app.app_context():
            assert claim_unclassified(10) == [poison]  # dies again
    age_claims(app)
    with app.app_context():
        done = drain_unclassified(settings=mail_domain(), store=blob_store(), budget=10)
        assert done.count == 2
        msg = db.session.get(Message, poison)
        assert msg.outcome == "quarantined"
        assert msg.status == "quarantined"
        assert msg.raw_sha256
        assert "never finished" in msg.outcome_reason
    assert outcomes(app, others) == ["candidate", "candidate"]


def test_a_message_that_takes_too_long_is_quarantined_and_the_drain_goes_on(app, team, monkeypatch):
    import time

    from webapp.mail.inbound import pipeline

    slow, fine = stored(app, raw_mail(subject="slow")), stored(app, raw_mail(subject="fine"))
    real_decide = pipeline.decide

    def decide_slowly(parsed, **kwargs):
        if parsed.subject == "slow":
            time.sleep(5)  # as quadratic address parsing would
        return real_decide(parsed, **kwargs)

    monkeypatch.setattr(pipeline, "decide", decide_slowly)
    with app.app_context():
        msg = drained_within_the_limit(slow)
        assert msg.subject == "slow"  # what was parsed is kept for the admin
    assert outcomes(app, [fine]) == ["candidate"]


def test_a_drain_out_of_budget_gives_the_rest_back(app, team):
    from webapp.mail.inbound.pipeline import claim_unclassified, drain_unclassified
    from webapp.services import blob_store, mail_domain

    ids = [stored(app, raw_mail(subject=f"Hello {i}")) for i in range(3)]
    with app.app_context():
        done = drain_unclassified(settings=mail_domain(), store=blob_store(), budget=0)
        assert done.more
        assert done.count == 0
        assert claim_unclassified(10) == ids  # given back at once, not after the stale delay


@pytest.fixture
def sweep_now(app):
    app.config["INBOUND_SWEEP_MIN_AGE"] = 0
    yield
    app.config["INBOUND_SWEEP_MIN_AGE"] = 30


def queued(app) -> list[str]:
    from webapp.queues import get_queue

    with app.app_context():
        return [job.func_name for job in get_queue("classify").jobs]


def test_the_sweep_wakes_one_drain_for_mail_nobody_classifies(app, team, redis, sweep_now):
    """Stored while Redis was down (no drain woken): the sweep wakes one, once."""
    from webapp.jobs.classify import classify_due_job, sweep_unclassified
    from webapp.jobs.enqueue import CLASSIFY_DUE_JOB

    message_id = stored(app, raw_mail())
    with app.app_context():
        assert sweep_unclassified() == 1
        assert sweep_unclassified() == 1
    assert queued(app) == [CLASSIFY_DUE_JOB]  # one drain waiting is enough
    with app.app_context():
        assert classify_due_job() == 1
        assert sweep_unclassified() == 0
    assert outcomes(app, [message_id]) == ["candidate"]


def test_the_sweep_leaves_mail_a_live_drain_holds_alone(app, team, redis, sweep_now):
    from webapp.jobs.classify import sweep_unclassified
    from webapp.mail.inbound.pipeline import claim_unclassified

    stored(app, raw_mail())
    with app.app_context():
        assert claim_unclassified(10)
        assert sweep_unclassified() == 0
    assert queued(app) == []
    age_claims(app)
    with app.app_context():
        assert sweep_unclassified() == 1  # its drain died: woken again


def test_a_drain_commits_its_classifications_in_groups(app, team, monkeypatch):
    from sqlalchemy import event

    from webapp.mail.inbound import pipeline
    from webapp.services import blob_store, mail_domain

    ids = [stored(app, raw_mail(subject=f"Hello {i}")) for i in range(12)]
    with app.app_context():
        commits = []
        listener = lambda conn: commits.append(1)  # noqa: E731
        event.listen(db.engine, "commit", listener)
        monkeypatch.setattr(pipeline, "GROUP_AGE_S", {"sqlite": 60, "postgresql": 60})  # a slow machine too
        try:
            with counting(app) as statements:
                done = pipeline.drain_unclassified(settings=mail_domain(), store=blob_store(), budget=60)
        finally:
            event.remove(db.engine, "commit", listener)
        assert done.count == 12
        assert len(commits) <= 3  # the claim, the group, the empty claim that ends the drain
        # The group's rows are read in one statement, not one a message.
        assert sum("other_copy_id" in s for s in statements) == 1
    assert outcomes(app, ids) == ["candidate"] * 12
    with app.app_context():  # the folder entries, computed once for the group, as a rebuild has them
        from webapp.mail.read import entries
        from webapp.models import FolderEntry

        def rows():
            return sorted(
                (e.user_id, e.folder, e.thread_id, e.message_id, e.is_unread, e.message_count)
                for e in db.session.scalars(select(FolderEntry))
            )

        kept = rows()
        assert kept
        entries.rebuild()
        assert rows() == kept


def test_copies_in_two_drains_groups_at_once_are_filed_once(app, team):
    """Two drains classify at once mail that came twice, the copies claimed apart: each mail is
    filed once and its copy is the duplicate (a group reads its rows at once, on PostgreSQL
    under the locks that keep copies apart; each waits for the other's copy only)."""
    import threading

    from webapp.mail.inbound import pipeline
    from webapp.services import blob_store, mail_domain

    raws = [raw_mail(subject=f"Twice {i}", message_id=f"<twice-{i}@outside.test>") for i in range(6)]
    ids = [stored(app, raw) for raw in raws] + [stored(app, raw) for raw in reversed(raws)]
    failures = []

    def drain():
        with app.app_context():
            try:
                pipeline.drain_unclassified(settings=mail_domain(), store=blob_store(), budget=60, batch=2)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)
            db.session.remove()

    drains = [threading.Thread(target=drain) for _ in range(2)]
    for t in drains:
        t.start()
    for t in drains:
        t.join(60)
    assert failures == []
    assert sorted(outcomes(app, ids)) == ["candidate"] * 6 + ["duplicate"] * 6
    with app.app_context():
        assert db.session.scalar(select(func.count(Thread.id))) == 6


def test_a_message_that_fails_in_a_group_is_quarantined_alone(app, team, monkeypatch):
    """The group is rolled back and classified one by one: the others are filed as usual,
    nothing of the failed message's half-classification remains."""
    from webapp.mail.inbound import pipeline
    from webapp.services import blob_store, mail_domain

    ids = [stored(app, raw_mail(subject=s)) for s in ("one", "bad", "three")]
    real_file = pipeline.file_decision

    def file_or_fail(stored, parsed, *args, **kwargs):
        filed = real_file(stored, parsed, *args, **kwargs)  # written, in the group's transaction
        if parsed.subject == "bad":
            raise RuntimeError("disk on fire")
        return filed

    monkeypatch.setattr(pipeline, "file_decision", file_or_fail)
    with app.app_context():
        done = pipeline.drain_unclassified(settings=mail_domain(), store=blob_store(), budget=60)
        assert done.outcomes == {"candidate": 2, "quarantined": 1}
        assert counts() == (2, 2)  # no conversation or recipient of the failed one
        bad = db.session.get(Message, ids[1])
        assert "disk on fire" in bad.outcome_reason
        assert bad.thread_id is None
    assert outcomes(app, ids) == ["candidate", "quarantined", "candidate"]


def test_the_time_bound_keeps_the_jobs_own_timeout(app, team):
    """RQ bounds the whole drain job with SIGALRM too: a message's bound must not cancel it."""
    import signal

    from webapp.mail.inbound.pipeline import classify_stored
    from webapp.services import blob_store, mail_domain

    message_id = stored(app, raw_mail())
    fired = []

    def the_jobs_timeout(*args):
        fired.append(1)

    previous = signal.signal(signal.SIGALRM, the_jobs_timeout)
    signal.setitimer(signal.ITIMER_REAL, 100)
    try:
        with app.app_context():
            assert (
                classify_stored(message_id, settings=mail_domain(), store=blob_store(), time_limit=5)
                == "candidate"
            )
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < left <= 100
        assert signal.getsignal(signal.SIGALRM) is the_jobs_timeout
        assert not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@postgresql_only
def test_a_message_filed_meanwhile_in_a_group_keeps_the_other_workers_outcome(app, team, monkeypatch):
    from webapp.mail.inbound import pipeline
    from webapp.services import blob_store, mail_domain

    first, taken, last = [stored(app, raw_mail(subject=s)) for s in ("one", "taken", "three")]
    real_decide = pipeline.decide

    def decide_while_another_worker_files_it(parsed, **kwargs):
        decision = real_decide(parsed, **kwargs)
        if parsed.subject == "taken":
            with db.engine.begin() as other:  # another worker, on its own connection
                other.execute(
                    update(Message)
                    .where(Message.id == taken)
                    .values(outcome="non_candidate", outcome_reason="filed by the other worker")
                )
        return decision

    monkeypatch.setattr(pipeline, "decide", decide_while_another_worker_files_it)
    # SQLite: a group holds the write lock, so another writer can only come between groups.
    monkeypatch.setattr(pipeline, "GROUP_AGE_S", {"sqlite": 0, "postgresql": 60})
    with app.app_context():
        pipeline.drain_unclassified(settings=mail_domain(), store=blob_store(), budget=60)
        assert counts() == (2, 2)  # nothing of the second filing of "taken"
        assert db.session.get(Message, taken).outcome_reason == "filed by the other worker"
    assert outcomes(app, [first, taken, last]) == ["candidate", "non_candidate", "candidate"]


def test_a_drain_commits_without_waiting_for_the_disk_and_gives_the_connection_back_durable(app, team):
    from sqlalchemy import text

    ids = [stored(app, raw_mail(subject=f"Hello {i}")) for i in range(3)]
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        # SQLite: synchronous NORMAL (1) skips the fsync, FULL (2) is the default.
        # PostgreSQL: synchronous_commit off for the drain's transactions only.
        ask, unsynced, durable = (
            ("PRAGMA synchronous", 1, 2) if sqlite else ("SHOW synchronous_commit", "off", "on")
        )
        levels = []

        def level(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("UPDATE"):  # the claims and the filing
                levels.append(cursor.connection.execute(ask).fetchone()[0])

        done = drained_watching(level)
        assert done.count == 3
        assert set(levels) == {unsynced}  # no wait for the disk at any of the drain's commits
        # The same pooled connection, used outside a drain (a send, the listener): durable again.
        assert db.session.scalar(text(ask)) == durable
    assert outcomes(app, ids) == ["candidate"] * 3


def test_a_group_parses_its_messages_before_its_first_write(app, team, monkeypatch):
    """On SQLite a group holds the write lock from its first write to its commit, and the
    listener waits for it: the parsing (a third of the time) comes before."""

    from webapp.mail.inbound import pipeline

    ids = [stored(app, raw_mail(subject=f"Hello {i}")) for i in range(3)]
    steps = []
    real_parse = pipeline.parse_file

    def parse_file(fh, head_bytes=0):
        parsed, head = real_parse(fh, head_bytes=head_bytes)
        steps.append(("parse", parsed.subject))
        return parsed, head

    def statement(conn, cursor, sql, parameters, context, executemany):
        if sql.lstrip().startswith(("UPDATE", "INSERT")) and "classify_claimed_at" not in sql:
            steps.append(("write", sql.split()[2]))

    monkeypatch.setattr(pipeline, "parse_file", parse_file)
    monkeypatch.setattr(pipeline, "GROUP_AGE_S", {"sqlite": 60, "postgresql": 60})
    with app.app_context():
        done = drained_watching(statement)
    assert done.count == 3
    first_write = next(i for i, step in enumerate(steps) if step[0] == "write")
    assert steps[:first_write] == [("parse", "Hello 0"), ("parse", "Hello 1"), ("parse", "Hello 2")]
    assert [s for s in steps if s[0] == "parse"] == steps[:first_write]  # each parsed once
    assert outcomes(app, ids) == ["candidate"] * 3


def test_a_message_too_slow_to_parse_ahead_is_quarantined_once_and_the_drain_goes_on(app, team, monkeypatch):
    from webapp.mail.inbound import pipeline

    slow, fine = stored(app, raw_mail(subject="slow")), stored(app, raw_mail(subject="fine"))
    real_parse = pipeline.parse_file
    slow_parses = []

    def parse_slowly(fh, head_bytes=0):
        parsed, head = real_parse(fh, head_bytes=head_bytes)
        if parsed.subject == "slow":
            slow_parses.append(1)
            time.sleep(5)  # as a hostile MIME structure would
        return parsed, head

    monkeypatch.setattr(pipeline, "parse_file", parse_slowly)
    with app.app_context():
        drained_within_the_limit(slow)
    assert slow_parses == [1]  # not parsed a second time once out of time
    assert outcomes(app, [fine]) == ["candidate"]


def drained_within_the_limit(slow: int) -> Message:
    """Drain with 0.5 s a message (in an app context): done in under 4 s, the slow message
    quarantined for its time, the other filed; the slow one's row."""
    from webapp.mail.inbound import pipeline
    from webapp.services import blob_store, mail_domain

    started = time.monotonic()
    done = pipeline.drain_unclassified(settings=mail_domain(), store=blob_store(), budget=10, time_limit=0.5)
    assert time.monotonic() - started < 4
    assert done.outcomes == {"quarantined": 1, "candidate": 1}
    msg = db.session.get(Message, slow)
    assert msg.outcome == "quarantined"
    assert "took longer than 0.5 s" in msg.outcome_reason
    return msg


def drained_watching(listener):
    """One drain (in an app context) with `listener` seeing every statement it runs."""
    from sqlalchemy import event

    from webapp.mail.inbound import pipeline
    from webapp.services import blob_store, mail_domain

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        return pipeline.drain_unclassified(settings=mail_domain(), store=blob_store(), budget=60)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def test_a_group_looked_up_at_once_decides_as_each_message_alone(app, team):
    """A drain's group asks the team, candidate and synced-copy questions once for all its
    messages: every message gets the decision it gets alone, for fewer statements."""
    import io

    from sqlalchemy import event

    from webapp.mail.inbound.classify import decide, look_up_group
    from webapp.mail.inbound.parse import parse_file
    from webapp.mail.inbound.pipeline import classify_stored, store_inbound
    from webapp.services import blob_store, mail_domain

    authenticated = {"Authentication-Results": "mx.mail.demo.test; dmarc=pass header.from=team.test"}
    with app.app_context():  # a reply Alice sent, synced from Rita's own mailbox
        synced = store_inbound(
            raw_mail(message_id="<seen@outside.test>"), store=blob_store(), source="mailbox"
        )
        db.session.commit()
        classify_stored(synced.id, settings=mail_domain(), store=blob_store())
    group = [
        raw_mail(),  # the candidate
        raw_mail(frm="ALICE@Outside.Test"),  # her address, other case
        raw_mail(frm="Jane <jane@agency.test>"),  # a stranger
        raw_mail(frm="Rita <rita@team.test>", headers=authenticated),  # a colleague
        raw_mail(frm="Rita <rita@team.test>"),  # a colleague's name, not authenticated
        raw_mail(message_id="<seen@outside.test>", body="the same reply, come twice"),
        raw_mail(frm="agency@hr.test", to="cv@mail.demo.test"),  # a CV
        raw_mail(frm="jane@agency.test", to="cv+backend@mail.demo.test, rita@mail.demo.test"),
    ]
    ids = [stored(app, raw) for raw in group]
    with app.app_context():
        settings = mail_domain()
        mails = []
        for message_id, raw in zip(ids, group, strict=True):
            parsed, _head = parse_file(io.BytesIO(raw), head_bytes=65536)
            envelope_to = db.session.get(Message, message_id).envelope_to
            mails.append((message_id, parsed, envelope_to))
        statements = []
        listener = lambda *args: statements.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:

            def decisions(known):
                return [
                    (d.outcome, d.reason, d.sender_auth, d.offer_id, d.candidate_id, d.recipient_user_ids)
                    for d in (
                        decide(parsed, sha256="-", envelope_to=to, settings=settings, own_id=i, known=known)
                        for i, parsed, to in mails
                    )
                ]

            alone = decisions(None)
            asked_alone, statements[:] = len(statements), []
            known = look_up_group([(parsed, to) for _i, parsed, to in mails], settings)
            together = decisions(known)
            asked_together = len(statements)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    assert together == alone
    assert [d[0] for d in alone] == [
        "candidate",
        "candidate",
        "non_candidate",
        "internal",
        "non_candidate",  # named a colleague without proof: filed as an outsider's, with the warning
        "duplicate",
        "incoming_cv",
        "incoming_cv",
    ]
    assert "did not authenticate" in alone[4][1]
    assert asked_together < asked_alone - len(group)  # at least one question fewer a message (33 -> 14)


def test_a_copy_seen_after_the_later_one_was_filed_is_the_duplicate(app, team):
    """Two connections deliver the same mail; the copy with the lower id commits last, after
    the other was filed as the original: it is the duplicate, not a second filing."""
    from webapp.mail.inbound.pipeline import classify_stored
    from webapp.services import blob_store, mail_domain

    raw = raw_mail(subject="Twice", message_id="<twice@outside.test>")
    late = stored(app, raw_mail(subject="placeholder for the copy still in flight"))
    first_seen = stored(app, raw)
    with app.app_context():
        assert classify_stored(first_seen, settings=mail_domain(), store=blob_store()) == "candidate"
        copy = db.session.get(Message, first_seen)
        db.session.execute(  # the copy in flight lands: the same bytes, the lower id
            update(Message)
            .where(Message.id == late)
            .values(raw_sha256=copy.raw_sha256, raw_size=copy.raw_size)
        )
        db.session.commit()
        assert classify_stored(late, settings=mail_domain(), store=blob_store()) == "duplicate"
        assert f"#{first_seen}" in db.session.get(Message, late).outcome_reason
        assert db.session.scalar(select(func.count(Thread.id))) == 1  # filed once


def test_two_copies_decided_at_the_same_time_are_filed_once(app, team):
    """Two drains take the two copies of one mail at the same moment: the second waits for
    the first's commit and is the duplicate (each finding the other not yet filed, both were
    filed)."""
    import threading

    from webapp.mail.inbound.pipeline import classify_stored
    from webapp.services import blob_store, mail_domain

    raw = raw_mail(subject="Twice at once", message_id="<at-once@outside.test>")
    first, second = stored(app, raw), stored(app, raw)
    decided, results = threading.Event(), {}

    def drain_holding_its_group_open():
        with app.app_context():
            results["second"] = classify_stored(
                second, settings=mail_domain(), store=blob_store(), commit=False
            )
            decided.set()
            time.sleep(0.5)  # the group goes on with other messages before its commit
            db.session.commit()
            db.session.remove()

    holder = threading.Thread(target=drain_holding_its_group_open)
    holder.start()
    assert decided.wait(10)
    with app.app_context():
        results["first"] = classify_stored(first, settings=mail_domain(), store=blob_store())
        db.session.remove()
    holder.join(10)
    assert sorted(results.values()) == ["candidate", "duplicate"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Thread.id))) == 1


def test_a_copy_stored_while_its_twin_is_parsed_is_still_filed_once(app, team, monkeypatch):
    """One drain reads a message's row, then parses it; meanwhile the listener's other
    connection commits a copy (with the lower id) and another drain decides it. Whichever
    is decided second is the duplicate."""
    import threading

    from webapp.mail.inbound import pipeline
    from webapp.services import blob_store, mail_domain

    raw = raw_mail(subject="Copy in flight", message_id="<in-flight@outside.test>")
    in_flight = stored(app, raw_mail(subject="placeholder for the copy still in flight"))
    read_first = stored(app, raw)
    parsing, results = threading.Event(), {}
    real_parse = pipeline._parse_stored

    def slow_parse(*args):
        if not parsing.is_set():
            parsing.set()
            time.sleep(0.4)
        return real_parse(*args)

    monkeypatch.setattr(pipeline, "_parse_stored", slow_parse)

    def first_drain():
        with app.app_context():
            results["read first"] = pipeline.classify_stored(
                read_first, settings=mail_domain(), store=blob_store()
            )
            db.session.remove()

    drain = threading.Thread(target=first_drain)
    drain.start()
    assert parsing.wait(10)
    with app.app_context():
        copy = db.session.get(Message, read_first)
        db.session.execute(  # the copy lands: the same bytes, the lower id
            update(Message)
            .where(Message.id == in_flight)
            .values(raw_sha256=copy.raw_sha256, raw_size=copy.raw_size)
        )
        db.session.commit()
        results["in flight"] = pipeline.classify_stored(in_flight, settings=mail_domain(), store=blob_store())
        db.session.remove()
    drain.join(10)
    assert sorted(results.values()) == ["candidate", "duplicate"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Thread.id))) == 1


def test_a_group_of_replies_reaches_every_writer_and_holds_scheduled_mail_with_one_write_each(
    app, make_team, make, monkeypatch
):
    """A drain's group writes its messages' recipients and the holds of scheduled mail once, at
    its commit: each reply still reaches the one it was sent to and the colleague who wrote in
    the conversation, and the mail Rita scheduled there waits for her."""
    from webapp.mail.inbound import pipeline
    from webapp.mail.read import entries
    from webapp.models import FolderEntry

    team = make_team(
        offers={"job": "Backend"},
        users={"Rita Recruiter": ["job"], "Sam Recruiter": ["job"]},
        candidates={"Alice Able": ["job"]},
    )
    conversation = make.thread("Interview", candidate=team.alice, offer=team.job)
    sams = make.message(conversation, direction="outbound", candidate=team.alice, sender=team.sam)
    scheduled = make.message(
        conversation, direction="outbound", candidate=team.alice, sender=team.rita, status="scheduled"
    )
    with app.app_context():
        rita_address = db.session.get_one(type(team.rita), team.rita.id).inbound_address("mail.demo.test")
    replies = [
        stored(
            app,
            raw_mail(
                to=rita_address, subject="Re: Interview", body=f"Reply {i}", in_reply_to=sams.message_id
            ),
        )
        for i in range(3)
    ]
    statements = []
    monkeypatch.setattr(pipeline, "GROUP_AGE_S", {"sqlite": 60, "postgresql": 60})  # one group
    with app.app_context():
        done = drained_watching(lambda _c, _cur, sql, *a: statements.append(sql))
        assert done.count == 3
        reached = sorted(
            (r.message_id, r.user_id)
            for r in db.session.scalars(select(MessageRecipient))
            if r.message_id in replies
        )
        assert reached == sorted((m, u) for m in replies for u in (team.rita.id, team.sam.id))
        assert db.session.get_one(Message, scheduled.id).held_at is not None
        assert sum("INSERT INTO message_recipients" in s for s in statements) == 1
        assert sum("SET held_at" in s for s in statements) == 1
        kept = sorted(
            (e.user_id, e.folder, e.thread_id, e.is_unread) for e in db.session.scalars(select(FolderEntry))
        )
        entries.rebuild()
        assert kept == sorted(
            (e.user_id, e.folder, e.thread_id, e.is_unread) for e in db.session.scalars(select(FolderEntry))
        )
    assert outcomes(app, replies) == ["reply"] * 3
