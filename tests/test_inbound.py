"""The inbound pipeline: every message stored first, then exactly one outcome each."""

import hashlib
import hmac
import json

import pytest
from sqlalchemy import func, select

from tests.corpus import corpus_files
from tests.mailmaker import dsn, raw_mail
from webapp.extensions import db
from webapp.jobs.enqueue import CLASSIFY_DUE_JOB
from webapp.models import Direction, Message, MessageRecipient, Outcome, Thread

DOMAIN = "mail.demo.test"


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend", "other_job": "Finance"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["job"]},
        candidates={"Alice Able": ["job"]},
    )


def receive(app, raw: bytes, envelope_to=()):
    """Store like an entry point does, then run the classify job inline."""
    from webapp.jobs.classify import classify_job
    from webapp.receiving.receive import receive as store_and_queue

    with app.test_request_context():
        message_id = store_and_queue(raw, "test", envelope_to=envelope_to)
        classify_job(message_id)
    return message_id


def row(app, message_id: int) -> Message:
    with app.app_context():
        msg = db.session.get(Message, message_id)
        db.session.expunge(msg)
        return msg


def outcome(app, raw, envelope_to=()):
    msg = row(app, receive(app, raw, envelope_to))
    return msg.outcome, msg


# ----- each outcome -------------------------------------------------------------


def test_candidate_mail_lands_in_the_addressed_users_inbox(app, team):
    result, msg = outcome(app, raw_mail(subject="My application", attachment=("cv.pdf", b"%PDF-1.4")))
    assert result == "candidate"
    assert msg.candidate_id == team.alice.id
    assert msg.thread_id
    assert msg.has_attachments
    assert "alice@outside.test" in msg.outcome_reason
    with app.app_context():
        users = set(
            db.session.scalars(select(MessageRecipient.user_id).where(MessageRecipient.message_id == msg.id))
        )
        assert users == {team.rita.id}
        assert db.session.get(Thread, msg.thread_id).offer_id == team.job.id


def test_non_candidate(app, team):
    result, msg = outcome(app, raw_mail(frm="Jane <jane@agency.test>"))
    assert result == "non_candidate"
    assert msg.candidate_id is None
    assert msg.thread_id


# What our receiving server (TestConfig's INBOUND_AUTHSERV_IDS) writes for mail from the team's domain.
TEAM_AUTHENTICATED = {"Authentication-Results": "mx.mail.demo.test; dmarc=pass header.from=team.test"}


def test_internal_mail_is_kept_off_candidate_views(app, team):
    result, msg = outcome(
        app, raw_mail(frm="Ada <ada@team.test>", to="rita@mail.demo.test", headers=TEAM_AUTHENTICATED)
    )
    assert result == "internal"
    assert msg.is_internal
    assert msg.sender_id == team.ada.id
    assert msg.candidate_id is None


def test_incoming_cv_to_a_job_and_to_the_company_inbox(app, team):
    result, msg = outcome(app, raw_mail(frm="agency@hr.test", to=f"cv+backend@{DOMAIN}"))
    assert result == "incoming_cv"
    assert msg.is_cv
    assert msg.cv_offer_id == team.job.id
    result, msg = outcome(app, raw_mail(frm="someone@hr.test", to=f"cv@{DOMAIN}"))
    assert result == "incoming_cv"
    assert msg.is_cv
    assert msg.cv_offer_id is None


def test_reply_joins_its_thread_by_headers_and_unarchives_it(app, make, team):
    thread = make.thread("Interview", candidate=team.alice, archived=True)
    sent = make.message(thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    result, msg = outcome(
        app, raw_mail(subject="Re: Interview", in_reply_to=sent.message_id, to="x@elsewhere.test")
    )
    assert result == "reply"
    assert msg.thread_id == thread.id
    with app.app_context():
        assert db.session.get(Thread, thread.id).is_archived is False
        recipients = set(
            db.session.scalars(select(MessageRecipient.user_id).where(MessageRecipient.message_id == msg.id))
        )
    assert recipients == {team.rita.id}  # she wrote in the thread: the reply is in her Inbox


def test_reply_found_by_the_reply_token_alone(app, make, team):
    from webapp.mail.addresses import reply_address

    thread = make.thread("Offer", candidate=team.alice)
    make.message(thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    address = reply_address(thread.id, DOMAIN, app.config["INBOUND_SECRET"])
    result, msg = outcome(app, raw_mail(subject="thanks!", to=address))
    assert result == "reply"
    assert msg.thread_id == thread.id

    forged = address.replace(address.split(".")[1][:4], "0000")
    result, msg = outcome(app, raw_mail(subject="forged", to=forged, body="different"))
    assert result == "candidate"
    assert msg.thread_id != thread.id


def test_reply_from_a_team_member_joins_as_internal(app, make, team):
    thread = make.thread("Interview", candidate=team.alice)
    first = make.message(thread, candidate=team.alice)
    result, msg = outcome(
        app, raw_mail(frm="ada@team.test", in_reply_to=first.message_id, headers=TEAM_AUTHENTICATED)
    )
    assert result == "reply"
    assert msg.thread_id == thread.id
    assert msg.is_internal
    assert msg.candidate_id is None


def test_duplicate_same_id_same_bytes_but_same_id_other_bytes_is_kept(app, team):
    raw = raw_mail(message_id="<dup@outside.test>")
    first, _ = outcome(app, raw)
    second, msg = outcome(app, raw)
    assert (first, second) == ("candidate", "duplicate")
    assert msg.thread_id is None
    assert "same Message-ID" in msg.outcome_reason
    third, _ = outcome(app, raw_mail(message_id="<dup@outside.test>", body="edited"))
    assert third == "candidate"


def _verp(app, sent) -> str:
    from webapp.mail.addresses import bounce_address

    return bounce_address(sent.id, DOMAIN, app.config["INBOUND_SECRET"])


def test_bounce_fails_the_sent_message_it_reports(app, make, team):
    thread = make.thread("Interview", candidate=team.alice)
    sent = make.message(thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    verp = _verp(app, sent)
    result, msg = outcome(app, dsn(sent.message_id, "alice@outside.test", to=verp), envelope_to=[verp])
    assert result == "bounce"
    assert msg.thread_id == thread.id
    assert msg.is_auto_reply
    failed = row(app, sent.id)
    assert failed.status == "failed"
    assert failed.delivery_state == "bounced"
    assert "does not exist" in failed.error


def test_a_report_quoting_only_a_message_id_is_unverified_and_changes_nothing(app, make, team):
    # Anyone who saw the Message-ID can forge a report: it joins the conversation, marked unverified.
    thread = make.thread("Interview", candidate=team.alice)
    sent = make.message(thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    result, msg = outcome(app, dsn(sent.message_id, "alice@outside.test"))
    assert result == "bounce"
    assert msg.thread_id == thread.id
    assert msg.bounced_message_id is None
    assert "unverified" in msg.outcome_reason
    untouched = row(app, sent.id)
    assert (untouched.status, untouched.delivery_state, untouched.error) == ("sent", None, None)


def test_bounce_found_by_its_verp_return_path(app, make, team):
    sent = make.message(direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    verp = _verp(app, sent)
    result, _ = outcome(app, dsn("<unknown@nowhere>", "alice@outside.test", to=verp), envelope_to=[verp])
    assert result == "bounce"
    assert row(app, sent.id).status == "failed"


def test_delay_shows_as_delayed_not_failed(app, make, team):
    sent = make.message(direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    verp = _verp(app, sent)
    result, _ = outcome(
        app,
        dsn(
            sent.message_id,
            "alice@outside.test",
            to=verp,
            action="delayed",
            status="4.4.7",
            diagnostic="Connection timed out; will retry",
        ),
        envelope_to=[verp],
    )
    assert result == "bounce"
    delayed = row(app, sent.id)
    assert delayed.status == "sent"
    assert delayed.delivery_state == "delayed"
    assert delayed.error.startswith("Delayed")


def out_of_office_to_rita(app, make, team):
    """Alice's out-of-office answer to Rita's mail: (outcome, message, Rita's conversation)."""
    thread = make.thread("Interview", candidate=team.alice)
    sent = make.message(thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    raw = raw_mail(
        subject="Out of office: Interview",
        in_reply_to=sent.message_id,
        headers={"Auto-Submitted": "auto-replied"},
    )
    return (*outcome(app, raw), thread)


def test_auto_reply_joins_as_a_note_never_unread(app, client, auth, make, team):
    result, msg, thread = out_of_office_to_rita(app, make, team)
    assert result == "auto_reply"
    assert msg.thread_id == thread.id
    assert msg.is_auto_reply
    auth.login(team.rita.email)
    assert "Interview" not in client.get("/mail/inbox").get_data(as_text=True)
    pane = client.get(f"/mail/sent/{thread.id}").get_data(as_text=True)
    assert "Automatic reply" in pane


def test_auto_reply_without_a_conversation_opens_none(app, team):
    result, msg = outcome(
        app, raw_mail(subject="Automatic reply: hello", headers={"Auto-Submitted": "auto-replied"})
    )
    assert result == "auto_reply"
    assert msg.thread_id is None


def test_a_reply_to_a_known_conversation_stays_a_reply_even_to_a_cv_address(app, make, team):
    """The rules' order: a reply comes before incoming CV (the conversation keeps its scope)."""
    thread = make.thread("Interview", candidate=team.alice)
    sent = make.message(thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice)
    raw = raw_mail(in_reply_to=sent.message_id, to=f"cv+backend@{DOMAIN}")
    result, msg = outcome(app, raw, envelope_to=[f"cv+backend@{DOMAIN}"])
    assert result == "reply"
    assert msg.thread_id == thread.id
    assert not msg.is_cv


def test_a_candidate_writing_to_a_cv_address_is_an_incoming_cv(app, team):
    """The rules' order: incoming CV comes before the sender rules."""
    result, msg = outcome(app, raw_mail(to=f"cv+finance@{DOMAIN}"))
    assert result == "incoming_cv"
    assert msg.cv_offer_id == team.other_job.id
    assert msg.candidate_id is None


def test_a_candidate_address_wins_over_a_team_login(app, make, team):
    """The rules' order: candidate comes before internal."""
    make.candidate("Rita Applicant", emails=["rita@team.test"])
    result, msg = outcome(app, raw_mail(frm="rita@team.test", to=f"ada@{DOMAIN}"))
    assert result == "candidate"
    assert not msg.is_internal
    assert msg.sender_id is None


def test_mailing_list_mail_is_sorted_like_any_other(app, team):
    raw = raw_mail(frm="news@list.test", headers={"Precedence": "list", "List-Id": "<news.list.test>"})
    assert outcome(app, raw)[0] == "non_candidate"


def test_quarantine_keeps_what_cannot_be_parsed_safely(app, team):
    parts = "".join(f"--B\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(1500))
    raw = (
        f"From: x@y.test\r\nSubject: many\r\nContent-Type: multipart/mixed; "
        f"boundary=B\r\n\r\n{parts}--B--\r\n"
    )
    result, msg = outcome(app, raw.encode())
    assert result == "quarantined"
    assert msg.status == "quarantined"
    assert msg.thread_id is None
    assert "MIME parts" in msg.outcome_reason
    assert msg.raw_sha256


def test_classifying_twice_does_nothing_the_second_time(app, team):
    from webapp.jobs.classify import classify_job

    message_id = receive(app, raw_mail())
    with app.app_context():
        before = db.session.scalar(select(func.count(Thread.id)))
        assert classify_job(message_id) == "candidate"
        assert db.session.scalar(select(func.count(Thread.id))) == before


# ----- never lost ---------------------------------------------------------------


def test_redis_down_still_stores_and_the_sweep_queues_it(app, team, monkeypatch):
    from webapp.mail.inbound.pipeline import unclassified_ids
    from webapp.receiving import receive as receive_module

    def broken_queue(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("webapp.jobs.enqueue.get_queue", broken_queue)
    with app.test_request_context():
        message_id = receive_module.receive(raw_mail(), "test")
    with app.app_context():
        assert db.session.get(Message, message_id).outcome is None
        from datetime import timedelta

        assert unclassified_ids(min_age=timedelta(0)) == [message_id]


def test_every_corpus_message_is_classified_or_quarantined_by_the_worker(app, team, redis):
    """Through RQ and a real worker: nothing lost, nothing left unclassified, no failed job."""
    from rq import SimpleWorker
    from rq.registry import FailedJobRegistry

    from webapp.queues import get_queue
    from webapp.receiving.receive import receive as store_and_queue

    corpus = corpus_files()
    files = list(corpus.values())
    with app.test_request_context():
        ids = [store_and_queue(f.read_bytes(), "test", envelope_to=["rita@mail.demo.test"]) for f in files]
        queue = get_queue("classify")
        assert queue.count == 1  # one drain for all of them, not a job per message
        SimpleWorker([queue], connection=redis).work(burst=True)
        assert FailedJobRegistry(queue=queue).count == 0
        rows = {m.id: m for m in db.session.scalars(select(Message).where(Message.id.in_(ids)))}
    assert len(rows) == len(files)  # stored == sent in
    outcomes = {name: rows[i].outcome for name, i in zip(corpus, ids, strict=True)}
    assert {n: o for n, o in outcomes.items() if o not in set(Outcome)} == {}
    bounces = {name: o for name, o in outcomes.items() if "/bounce/" in name}
    assert bounces
    assert set(bounces.values()) == {"bounce"}, bounces
    assert outcomes["hiremail/nested-too-deep.eml"] == "quarantined"
    assert outcomes.get("flanker/enclosed-endless.eml", "quarantined") == "quarantined"  # shared corpus only
    assert outcomes["hiremail/auto-reply.eml"] == "auto_reply"


# ----- the webhook ----------------------------------------------------------------


def sign(app, body: bytes) -> str:
    return "sha256=" + hmac.new(app.config["INBOUND_SECRET"].encode(), body, hashlib.sha256).hexdigest()


def test_webhook_stores_signed_mail(app, client, team, redis):
    body = raw_mail()
    response = client.post("/inbound/raw", data=body, headers={"X-Hiremail-Signature": sign(app, body)})
    assert response.status_code == 202
    message_id = response.get_json()["id"]
    with app.app_context():
        stored = db.session.get(Message, message_id)
        assert stored.raw_sha256 == hashlib.sha256(body).hexdigest()
        assert stored.source == "webhook"
    from webapp.queues import get_queue

    with app.app_context():
        assert [job.func_name for job in get_queue("classify").jobs] == [CLASSIFY_DUE_JOB]


@pytest.mark.parametrize("signature", [None, "sha256=", "sha256=" + "0" * 64, "md5=abc"])
def test_webhook_refuses_a_bad_signature(app, client, team, signature):
    headers = {"X-Hiremail-Signature": signature} if signature else {}
    response = client.post("/inbound/raw", data=raw_mail(), headers=headers)
    assert response.status_code == 401
    with app.app_context():
        assert db.session.scalar(select(func.count(Message.id))) == 0


def test_webhook_refuses_oversized_mail(app, client, team):
    body = raw_mail(body="x" * 5000)
    app.config["INBOUND_MAX_BYTES"] = 1000
    try:
        response = client.post("/inbound/raw", data=body, headers={"X-Hiremail-Signature": sign(app, body)})
    finally:
        app.config["INBOUND_MAX_BYTES"] = 25 * 1024 * 1024
    assert response.status_code == 413


# ----- the importer ---------------------------------------------------------------


def test_import_eml_mbox_and_maildir(app, team, tmp_path):
    import mailbox

    (tmp_path / "a.eml").write_bytes(raw_mail(subject="from eml"))
    box = mailbox.mbox(str(tmp_path / "box.mbox"))
    box.add(raw_mail(subject="from mbox 1"))
    box.add(raw_mail(subject="from mbox 2", frm="jane@agency.test"))
    box.flush()
    maildir = mailbox.Maildir(str(tmp_path / "md"))
    maildir.add(raw_mail(subject="from maildir"))
    runner = app.test_cli_runner()

    result = runner.invoke(args=["mail", "import", str(tmp_path / "box.mbox")])
    assert "2 messages: 2 imported, 0 duplicates, 0 quarantined." in result.output, result.output
    again = runner.invoke(args=["mail", "import", str(tmp_path / "box.mbox")])
    assert "0 imported, 2 duplicates" in again.output
    lines = runner.invoke(args=["mail", "import", "--json", str(tmp_path / "md")]).output.strip().splitlines()
    assert [json.loads(x)["outcome"] for x in lines] == ["candidate"]
    eml = runner.invoke(args=["mail", "import", "--json", str(tmp_path / "a.eml")]).output.strip()
    assert json.loads(eml)["outcome"] == "candidate"
    assert json.loads(eml)["message_id"].startswith("<")


def test_import_dry_run_stores_nothing(app, team, tmp_path):
    (tmp_path / "one.eml").write_bytes(raw_mail(frm="jane@agency.test"))
    (tmp_path / "two.eml").write_bytes(raw_mail(to=f"cv+backend@{DOMAIN}", frm="hr@agency.test"))
    result = app.test_cli_runner().invoke(args=["mail", "import", "--dry-run", "--json", str(tmp_path)])
    outcomes = sorted(json.loads(x)["outcome"] for x in result.output.strip().splitlines())
    assert outcomes == ["incoming_cv", "non_candidate"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Message.id))) == 0


def test_periodic_sweep_runs_once_per_interval_across_workers(app, team, redis, monkeypatch):
    from webapp.jobs import periodic
    from webapp.queues import get_queue
    from webapp.receiving.receive import receive as store_and_queue

    with monkeypatch.context() as m:
        m.setattr("webapp.jobs.enqueue.get_queue", lambda *a, **k: (_ for _ in ()).throw(ConnectionError()))
        with app.test_request_context():
            store_and_queue(raw_mail(), "test")
    app.config["INBOUND_SWEEP_MIN_AGE"] = 0
    try:
        assert periodic.run_due(app, redis, 60) is True
        assert periodic.run_due(app, redis, 60) is False  # another worker, same minute: skipped
    finally:
        app.config["INBOUND_SWEEP_MIN_AGE"] = 30
    with app.app_context():
        assert [job.func_name for job in get_queue("classify").jobs] == [CLASSIFY_DUE_JOB]


def test_quarantine_is_visible_to_admins_with_the_raw_file(app, client, auth, team):
    raw = b"From: x@y.test\r\nSubject: broken <script>\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    raw += b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\np\r\n" for _ in range(1200)) + b"--B--\r\n"
    result, msg = outcome(app, raw)
    assert result == "quarantined"
    auth.login(team.rita.email)
    assert client.get("/admin/quarantine").status_code == 404
    assert client.get(f"/admin/messages/{msg.id}/raw").status_code == 404
    auth.logout()
    auth.login(team.ada.email)
    page = client.get("/admin/quarantine").get_data(as_text=True)
    assert f'id="held-{msg.id}"' in page
    assert "more than 1000 MIME parts" in page
    assert "broken &lt;script&gt;" in page
    download = client.get(f"/admin/messages/{msg.id}/raw")
    assert download.data == raw
    assert download.headers["Content-Disposition"].startswith("attachment")


def test_why_is_this_here_in_the_pane(app, client, auth, team):
    _, msg = outcome(app, raw_mail(subject="Question"))
    auth.login(team.rita.email)
    pane = client.get(f"/mail/inbox/{msg.thread_id}").get_data(as_text=True)
    assert "Why is this here?" in pane
    assert "From a candidate" in pane
    assert "alice@outside.test is a candidate" in pane
