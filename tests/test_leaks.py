"""Candidate data never leaks past job access: forwards keep their scope, conversions keep
what people already saw, offers a user cannot access never show (issue 11, "Leaks found")."""

import re

import pytest
from sqlalchemy import select

from tests.dom import parse
from tests.helpers import row_subjects
from tests.mailmaker import raw_mail
from webapp.extensions import db
from webapp.mail.read import entries
from webapp.mail.storage import BlobStore
from webapp.models import Attachment, Candidate, FolderEntry, Message, Thread

PANE = {"HX-Request": "true", "HX-Target": "message-pane"}
OUTSIDER = "hiring.manager@acme.example"


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend Engineer", "sales": "Sales Lead"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["job"], "Sam Recruiter": ["sales"]},
        candidates={"Léa Martin": {"offers": ["job"], "emails": ["lea@outside.test"]}},
    )


def post(client, auth, url, data, files=None):
    token = auth.csrf_token("/mail/inbox")
    form = {"csrf_token": token, **data}
    if files:
        form["attachments"] = files
    return client.post(url, data=form, headers=PANE, content_type="multipart/form-data")


def as_user(auth, user):
    auth.logout()
    auth.login(user.email)


def receive(app, raw: bytes) -> Message:
    from webapp.jobs.classify import classify_job
    from webapp.receiving.receive import receive as store_and_queue

    with app.test_request_context():
        message_id = store_and_queue(raw, "test")
        classify_job(message_id)
    with app.app_context():
        msg = db.session.get_one(Message, message_id)
        db.session.expunge(msg)
        return msg


@pytest.fixture
def application(app, make, team):
    """Léa's application to Rita, her CV attached (the blob stored, so a forward can carry it)."""
    thread = make.thread("Application for Backend Engineer", candidate=team.léa, offer=team.job)
    msg = make.message(thread, candidate=team.léa, to_users=[team.rita])
    with app.app_context():
        sha = BlobStore(app.config["STORAGE_DIR"]).put(b"%PDF Lea Martin CV")
        db.session.add(
            Attachment(
                message_id=msg.id, filename="lea-cv.pdf", content_type="application/pdf", size=18, sha256=sha
            )
        )
        db.session.get_one(Message, msg.id).has_attachments = True
        db.session.commit()
    return msg


def forward(client, auth, source_id: int, to: str = OUTSIDER, confirm: bool = True):
    """Forward as the signed-in user; confirm the privacy warning when it comes."""
    data = {"to": to, "subject": "Fwd: Application", "body": "See below", "forward_of_id": str(source_id)}
    first = post(client, auth, "/compose", {**data, "preset": "now"})
    if first.status_code != 422 or not confirm:
        return first
    box = parse(first.get_data(as_text=True)).find("input", name="confirm_privacy")
    assert box is not None, "no privacy confirmation offered"
    return post(client, auth, "/compose", {**data, "preset": "now", "confirm_privacy": box.get("value")})


def last_sent(app) -> Message:
    with app.app_context():
        msg = db.session.scalars(
            select(Message).where(Message.direction == "outbound").order_by(Message.id.desc())
        ).first()
        assert msg is not None
        db.session.expunge(msg)
        return msg


# ----- 1 and 2: a forward stays in the candidate's scope; the sender confirms what leaves ----------


def test_forwarding_a_cv_outside_asks_first_naming_what_leaves(app, client, auth, team, application):
    auth.login(team.rita.email)
    data = {"to": OUTSIDER, "subject": "Fwd: CV", "forward_of_id": str(application.id), "preset": "now"}
    refused = post(client, auth, "/compose", data)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert f"Léa Martin&#39;s CV goes to {OUTSIDER}" in html or f"Léa Martin's CV goes to {OUTSIDER}" in html
    with app.app_context():
        assert db.session.scalar(select(Message).where(Message.direction == "outbound")) is None
    token = parse(html).find("input", name="confirm_privacy").get("value")
    # A confirmation holds for what was shown only: another recipient is a new warning.
    other = post(client, auth, "/compose", {**data, "to": "someone@else.example", "confirm_privacy": token})
    assert other.status_code == 422
    assert post(client, auth, "/compose", {**data, "confirm_privacy": token}).status_code == 200


def test_forwarding_inside_the_team_or_to_the_candidate_needs_no_confirmation(
    client, auth, team, application
):
    auth.login(team.rita.email)
    assert forward(client, auth, application.id, to="sam@team.test", confirm=False).status_code == 200
    assert forward(client, auth, application.id, to="lea@outside.test", confirm=False).status_code == 200


def test_attaching_a_candidates_cv_file_outside_asks_too(app, client, auth, team, application):
    from io import BytesIO

    auth.login(team.rita.email)
    data = {"to": OUTSIDER, "subject": "A profile", "preset": "now"}
    response = post(client, auth, "/compose", data, files=[(BytesIO(b"%PDF Lea Martin CV"), "profile.pdf")])
    assert response.status_code == 422
    assert "CV goes to" in response.get_data(as_text=True)
    assert "Choose the files you attached again" in response.get_data(as_text=True)
    plain = post(client, auth, "/compose", data, files=[(BytesIO(b"our brochure"), "brochure.pdf")])
    assert plain.status_code == 200


def _schedule_forward_to_sam(app, client, auth, application) -> Message:
    """Rita forwards Léa's application to Sam (inside the team: no question), for Monday."""
    data = {"to": "sam@team.test", "subject": "Fwd: Application", "forward_of_id": str(application.id)}
    assert post(client, auth, "/compose", {**data, "preset": "monday"}).status_code == 200
    scheduled = last_sent(app)
    assert scheduled.status == "scheduled"
    return scheduled


def test_editing_a_scheduled_forward_to_add_an_outsider_asks_like_a_fresh_send(
    app, client, auth, team, application
):
    auth.login(team.rita.email)
    scheduled = _schedule_forward_to_sam(app, client, auth, application)
    form = parse(client.get(f"/compose/edit/{scheduled.id}", headers=PANE).get_data(as_text=True))
    send_at = form.one("input", name="send_at").get("value")
    edit = {"to": f"sam@team.test, {OUTSIDER}", "subject": "Fwd: Application", "preset": "custom"}
    edit["send_at"] = send_at
    refused = post(client, auth, f"/compose/edit/{scheduled.id}", edit)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert f"Léa Martin&#39;s CV goes to {OUTSIDER}" in html or f"Léa Martin's CV goes to {OUTSIDER}" in html
    assert last_sent(app).to_addresses == ["sam@team.test"]  # nothing changed before the answer
    box = parse(html).find("input", name="confirm_privacy")
    assert box is not None
    assert parse(html).find("form").get("action").endswith(f"/compose/edit/{scheduled.id}")
    # A confirmation holds for what it named only.
    other = post(
        client,
        auth,
        f"/compose/edit/{scheduled.id}",
        {**edit, "to": "x@else.example", "confirm_privacy": box.get("value")},
    )
    assert other.status_code == 422
    saved = post(client, auth, f"/compose/edit/{scheduled.id}", {**edit, "confirm_privacy": box.get("value")})
    assert saved.status_code == 200
    edited = last_sent(app)
    assert edited.to_addresses == ["sam@team.test", OUTSIDER]
    assert (edited.candidate_id, edited.carries) == (team.léa.id, "cv")  # still Léa's: Sam never sees it
    # Saved again with the same outsider: nothing new leaves, nothing to confirm again.
    again = post(client, auth, f"/compose/edit/{scheduled.id}", {**edit, "subject": "Fwd: Léa"})
    assert again.status_code == 200


def test_a_scheduled_forward_from_before_messages_said_what_they_carry_asks_too(
    app, client, auth, make, team, application
):
    """Scheduled before `carries` existed: the CV it attaches tells what it carries."""
    from datetime import timedelta

    from webapp.models.types import utcnow

    with app.app_context():
        cv = db.session.scalar(select(Attachment).where(Attachment.message_id == application.id))
        sha = cv.sha256
    older = make.message(
        make.thread("Fwd: Application"),
        direction="outbound",
        status="scheduled",
        sender=team.rita,
        candidate=team.léa,
        to_addresses=["sam@team.test"],
        at=utcnow() + timedelta(days=2),
    )
    with app.app_context():
        db.session.add(
            Attachment(
                message_id=older.id,
                filename="lea-cv.pdf",
                content_type="application/pdf",
                size=18,
                sha256=sha,
            )
        )
        db.session.commit()
    auth.login(team.rita.email)
    form = parse(client.get(f"/compose/edit/{older.id}", headers=PANE).get_data(as_text=True))
    edit = {
        "to": f"sam@team.test, {OUTSIDER}",
        "subject": "Fwd: Application",
        "preset": "custom",
        "send_at": form.one("input", name="send_at").get("value"),
    }
    refused = post(client, auth, f"/compose/edit/{older.id}", edit)
    assert refused.status_code == 422
    assert "CV goes to" in refused.get_data(as_text=True)


def test_a_scheduled_forward_brought_back_as_a_draft_keeps_its_scope(app, client, auth, team, application):
    auth.login(team.rita.email)
    scheduled = _schedule_forward_to_sam(app, client, auth, application)
    token = auth.csrf_token("/mail/inbox")
    cancelled = client.post(
        f"/messages/{scheduled.id}/cancel?folder=scheduled", headers={**PANE, "X-CSRFToken": token}
    )
    assert cancelled.status_code == 200
    data = {"to": OUTSIDER, "subject": "Fwd: Application", "preset": "now", "draft_id": str(scheduled.id)}
    refused = post(client, auth, "/compose", data)
    assert refused.status_code == 422
    assert "CV goes to" in refused.get_data(as_text=True)
    box = parse(refused.get_data(as_text=True)).find("input", name="confirm_privacy")
    assert post(client, auth, "/compose", {**data, "confirm_privacy": box.get("value")}).status_code == 200
    sent = last_sent(app)
    assert (sent.to_addresses, sent.candidate_id) == ([OUTSIDER], team.léa.id)


def test_a_forward_stays_in_the_candidates_scope_and_the_reply_threads_back(
    app, client, auth, team, application
):
    auth.login(team.rita.email)
    assert forward(client, auth, application.id).status_code == 200
    fwd = last_sent(app)
    with app.app_context():
        thread = db.session.get_one(Thread, fwd.thread_id)
        assert (fwd.candidate_id, thread.candidate_id, thread.offer_id) == (
            team.léa.id,
            team.léa.id,
            team.job.id,
        )
        [attachment_id] = db.session.scalars(select(Attachment.id).where(Attachment.message_id == fwd.id))
    # The outsider answers: the answer joins the forward's conversation, in Léa's scope.
    answer = receive(app, raw_mail(frm=OUTSIDER, subject="Re: Fwd: Application", in_reply_to=fwd.message_id))
    assert answer.thread_id == fwd.thread_id
    assert answer.candidate_id == team.léa.id

    # Rita sees it all on Léa's timeline.
    page = client.get(f"/candidates/{team.léa.id}").get_data(as_text=True)
    assert "Fwd: Application" in page
    assert "Re: Fwd: Application" in page
    assert client.get(f"/attachments/{attachment_id}").status_code == 200

    # Sam, with no access to Backend Engineer, sees none of it anywhere.
    as_user(auth, team.sam)
    assert row_subjects(client.get("/mail/non-candidates").get_data(as_text=True)) == []
    assert client.get(f"/mail/non-candidates/{fwd.thread_id}", headers=PANE).status_code == 404
    assert client.get(f"/attachments/{attachment_id}").status_code == 404
    for words in ("Léa", "Application", "hiring.manager"):
        assert "Fwd: Application" not in client.get(f"/search?q={words}").get_data(as_text=True)


def test_a_cv_forwarded_from_the_mail_client_and_synced_stays_in_the_candidates_scope(
    app, client, auth, team, application
):
    """Rita forwards Léa's CV from her own mail client; her mailbox sync files it as her sent mail."""
    from webapp.mail.inbound.parse import parse
    from webapp.mail.inbound.pipeline import store_inbound
    from webapp.mail.sync.sent import SOURCE, file_sent
    from webapp.models.types import utcnow
    from webapp.services import blob_store

    raw = raw_mail(
        frm="Rita Recruiter <rita@team.test>",
        to=OUTSIDER,
        subject="Fwd: a backend profile",
        attachment=("lea-cv.pdf", b"%PDF Lea Martin CV"),
    )
    with app.app_context():
        msg = store_inbound(raw, store=blob_store(), source=SOURCE)
        file_sent(msg.id, team.rita.id, parse(raw), blob_store(), utcnow())
        entries.refresh([db.session.get_one(Message, msg.id).thread_id])
        db.session.commit()
        synced = db.session.get_one(Message, msg.id)
        assert (synced.candidate_id, synced.carries) == (team.léa.id, "cv")
        [attachment_id] = db.session.scalars(select(Attachment.id).where(Attachment.message_id == msg.id))
    auth.login(team.rita.email)
    assert "Fwd: a backend profile" in client.get(f"/candidates/{team.léa.id}").get_data(as_text=True)
    as_user(auth, team.sam)  # no access to Backend Engineer
    assert "Fwd: a backend profile" not in row_subjects(
        client.get("/mail/non-candidates").get_data(as_text=True)
    )
    assert client.get(f"/attachments/{attachment_id}").status_code == 404


def test_a_reply_to_an_agency_about_an_unprocessed_cv_stays_with_the_job(app, client, auth, make, team):
    cv_thread = make.thread("CV: a strong profile", offer=team.job)
    cv = make.message(cv_thread, from_address="agency@hr.example", is_cv=True, cv_offer_id=team.job.id)
    auth.login(team.rita.email)
    fwd = forward(client, auth, cv.id)
    assert fwd.status_code == 200
    sent = last_sent(app)
    assert sent.cv_offer_id == team.job.id
    assert sent.candidate_id is None
    answer = receive(app, raw_mail(frm=OUTSIDER, subject="Re: CV", in_reply_to=sent.message_id))
    assert answer.cv_offer_id == team.job.id
    as_user(auth, team.sam)
    assert row_subjects(client.get("/mail/non-candidates").get_data(as_text=True)) == []
    assert client.get(f"/mail/non-candidates/{sent.thread_id}", headers=PANE).status_code == 404


# ----- 3: a conversion never takes mail out of the sight of those who took part -------------------


@pytest.fixture
def bob(make, team):
    """Bob, not a candidate: Rita wrote to him in 3 conversations, he answered one; one is Sam's."""
    ritas = []
    for i in range(3):
        t = make.thread(f"Rita and Bob {i}")
        make.message(
            t,
            direction="outbound",
            sender=team.rita,
            from_address="rita@mail.test",
            to_addresses=["bob@agency.test"],
        )
        ritas.append(t)
    make.message(ritas[0], from_address="bob@agency.test", to_users=[team.rita])
    sams = make.thread("Bob to Sam")
    make.message(sams, from_address="bob@agency.test", to_users=[team.sam])
    return {"ritas": ritas, "sams": sams}


def test_a_conversion_by_someone_else_leaves_ritas_mail_where_she_saw_it(app, client, auth, team, bob):
    auth.login(team.rita.email)
    before = sorted(row_subjects(client.get("/mail/non-candidates").get_data(as_text=True)))
    as_user(auth, team.sam)
    response = post(
        client,
        auth,
        f"/mail/non-candidates/{bob['sams'].id}/convert",
        {
            "first_name": "Bob",
            "last_name": "Baker",
            "email": "bob@agency.test",
            "offer_id": str(team.sales.id),
        },
    )
    assert response.status_code == 200
    with app.app_context():
        bob_id = db.session.scalar(select(Candidate.id).where(Candidate.first_name == "Bob"))
        assert (
            db.session.scalar(select(Message.candidate_id).where(Message.thread_id == bob["ritas"][0].id))
            == bob_id
        )
    as_user(auth, team.rita)
    for thread in bob["ritas"]:
        pane = client.get(f"/mail/sent/{thread.id}", headers=PANE)
        assert pane.status_code == 200
    answer = client.get(f"/mail/non-candidates/{bob['ritas'][0].id}", headers=PANE).get_data(as_text=True)
    assert answer.count('class="message') >= 2  # her message and Bob's answer to her
    # Bob's own mail to Sam was never hers: it left with the conversion; hers stayed.
    assert "Bob to Sam" in before
    after = sorted(row_subjects(client.get("/mail/non-candidates").get_data(as_text=True)))
    assert after == [s for s in before if s != "Bob to Sam"]
    assert len(row_subjects(client.get("/mail/sent").get_data(as_text=True))) == 3
    # Nothing about Bob's new job shows to her, and his profile stays Sam's team's.
    assert "Sales Lead" not in answer
    assert client.get(f"/candidates/{bob_id}").status_code == 404
    # Folder entries agree with a rebuild from the rules.
    with app.app_context():
        kept = sorted(
            db.session.execute(
                select(FolderEntry.user_id, FolderEntry.folder, FolderEntry.thread_id)
            ).tuples()
        )
        entries.rebuild()
        db.session.commit()
        rebuilt = sorted(
            db.session.execute(
                select(FolderEntry.user_id, FolderEntry.folder, FolderEntry.thread_id)
            ).tuples()
        )
    assert kept == rebuilt


# ----- 4: offers a user cannot access never show -------------------------------------------------


def test_offers_the_user_cannot_access_never_show(app, client, auth, make, team):
    both = make.candidate("Nina Both", offers=[team.job, team.sales])
    thread = make.thread("Interview", candidate=both, offer=team.job)
    make.message(thread, candidate=both, to_users=[team.sam])
    auth.login(team.sam.email)
    page = client.get(f"/candidates/{both.id}").get_data(as_text=True)
    assert "Sales Lead" in page
    assert "Backend Engineer" not in page
    pane = client.get(f"/mail/candidates/{thread.id}", headers=PANE).get_data(as_text=True)
    assert "Backend Engineer" not in pane
    assert "Follow this job" not in pane
    assert "Backend Engineer" not in client.get("/mail/candidates").get_data(as_text=True)
    results = client.get(f"/candidates/search?q=Nina&email=x@y.test&thread={thread.id}").get_data(
        as_text=True
    )
    assert "Nina Both" in results
    assert "Sales Lead" in results
    assert "Backend Engineer" not in results
    as_user(auth, team.rita)
    assert "Backend Engineer" in client.get(f"/mail/candidates/{thread.id}", headers=PANE).get_data(
        as_text=True
    )


# ----- 6 and 7 ------------------------------------------------------------------------------------


def test_candidate_search_without_a_conversation_lists_links(client, auth, team):
    auth.login(team.rita.email)
    response = client.get("/candidates/search?q=Léa")
    assert response.status_code == 200
    assert f'href="/candidates/{team.léa.id}"' in response.get_data(as_text=True)


def test_a_candidate_made_from_a_cv_without_an_offer_opens_for_its_maker(app, client, auth, make, team):
    cv_thread = make.thread("My CV", offer=team.job)
    make.message(cv_thread, from_address="nora@else.example", is_cv=True, cv_offer_id=team.job.id)
    auth.login(team.rita.email)
    response = post(
        client,
        auth,
        f"/mail/incoming-cv/{cv_thread.id}/candidate",
        {"first_name": "Nora", "last_name": "Noplace", "email": "nora@else.example", "offer_id": ""},
    )
    assert response.status_code == 200
    with app.app_context():
        nora = db.session.scalar(select(Candidate.id).where(Candidate.first_name == "Nora"))
    assert client.get(f"/candidates/{nora}").status_code == 200
    as_user(auth, team.sam)  # no access to the job the CV came to
    assert client.get(f"/candidates/{nora}").status_code == 404


# ----- 5: a hidden candidate's address answers like anyone's --------------------------------------


def test_cc_and_sends_answer_the_same_for_a_hidden_candidate(app, client, auth, team):
    auth.login(team.sam.email)  # Léa is on Backend Engineer: hidden from Sam
    answers = {}
    for address in ("lea@outside.test", "stranger@outside.test"):
        cc = post(
            client,
            auth,
            "/compose",
            {"to": "x@else.example", "cc": address, "subject": "Hi", "preset": "now"},
        )
        to = post(client, auth, "/compose", {"to": address, "subject": "Hello", "preset": "now"})
        answers[address] = (cc.status_code, to.status_code)
        pane = to.get_data(as_text=True)
        assert "Léa" not in pane
        assert "Backend Engineer" not in pane
    assert answers["lea@outside.test"] == answers["stranger@outside.test"] == (200, 200)
    # Léa answers Sam: her answer reaches him like a stranger's would, without naming her job.
    sent = last_sent(app)  # to the stranger; Léa's is the one before
    with app.app_context():
        to_lea = db.session.scalars(
            select(Message).where(Message.subject == "Hello").order_by(Message.id)
        ).first()
        assert to_lea is not None
        assert to_lea.to_addresses == ["lea@outside.test"]
        assert to_lea.candidate_id is None  # to Sam she is a stranger
        lea_thread, lea_mid = to_lea.thread_id, to_lea.message_id
    answer = receive(
        app, raw_mail(frm="Léa Martin <lea@outside.test>", subject="Re: Hello", in_reply_to=lea_mid)
    )
    assert answer.thread_id == lea_thread
    assert answer.candidate_id == team.léa.id
    pane = client.get(f"/mail/non-candidates/{lea_thread}", headers=PANE).get_data(as_text=True)
    assert "Re: Hello" in pane
    assert "Backend Engineer" not in pane
    assert sent.thread_id != lea_thread
    # For Rita, who sees Léa, the Cc rule between candidates stays.
    as_user(auth, team.rita)
    refused = post(
        client,
        auth,
        "/compose",
        {"to": "x@else.example", "cc": "lea@outside.test", "subject": "Hi", "preset": "now"},
    )
    assert refused.status_code == 422
    assert re.search("candidate", refused.get_data(as_text=True))


# ----- 5: enumeration: login timing, SMTP RCPT -----------------------------------------------------


def test_a_failed_login_checks_one_password_hash_whether_the_account_exists_or_not(
    app, client, auth, make, team, monkeypatch
):
    import time

    from webapp.auth import passwords
    from webapp.extensions import db as _db
    from webapp.models import User

    with app.app_context():  # a real account hashes its password like production does
        user = _db.session.get_one(User, team.rita.id)
        user.set_password("the real one")
        _db.session.commit()
    checked = []
    real = passwords.check_password_hash
    monkeypatch.setattr(passwords, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    method = passwords.DUMMY_HASH.split("$", 1)[0]
    with app.app_context():
        assert _db.session.get_one(User, team.rita.id).password_hash.split("$", 1)[0] == method

    def attempt(email: str) -> float:
        start = time.perf_counter()
        assert auth.login(email, "wrong password").status_code == 422
        return time.perf_counter() - start

    existing = min(attempt("rita@team.test") for _ in range(3))
    unknown = min(attempt("nobody@team.test") for _ in range(3))
    assert checked.count(passwords.DUMMY_HASH) == 3  # the unknown account paid for one hash each time
    assert unknown > existing / 3, (existing, unknown)  # same order of time (was 0.006 s vs 0.3 s)


def test_rcpt_accepts_every_job_cv_address_alike(app, team):
    from webapp.receiving.receive import accepts

    with app.test_request_context():
        assert accepts("cv+backend-engineer@mail.demo.test")
        assert accepts("cv+no-such-job@mail.demo.test")
        assert not accepts("nobody@mail.demo.test")


# ----- 8: spoofed team members ---------------------------------------------------------------------

OUR_MX = "mx.mail.demo.test"  # TestConfig's INBOUND_AUTHSERV_IDS


def passed(domain: str) -> str:
    return (
        f"{OUR_MX}; spf=pass smtp.mailfrom=ada@{domain}; dkim=pass header.d={domain};"
        f" dmarc=pass header.from={domain}"
    )


def test_mail_in_a_team_members_name_is_internal_only_when_authenticated(app, client, auth, team):
    genuine = receive(
        app,
        raw_mail(
            frm="Ada Admin <ada@team.test>",
            subject="Genuine",
            headers={"Authentication-Results": passed("team.test")},
        ),
    )
    assert genuine.outcome == "internal"
    assert genuine.sender_auth == "pass"
    cases = {
        "No header": {},
        "Failed": {
            "Authentication-Results": f"{OUR_MX}; spf=fail smtp.mailfrom=x@evil.example;"
            " dmarc=fail header.from=team.test"
        },
        # A header the sender wrote, naming a server we do not trust, counts for nothing.
        "Self-made": {"Authentication-Results": "mx.evil.example; dmarc=pass header.from=team.test"},
        # Our server's verdict, but for another domain than the one in From.
        "Unaligned": {
            "Authentication-Results": f"{OUR_MX}; spf=pass smtp.mailfrom=x@evil.example;"
            " dkim=pass header.d=evil.example"
        },
    }
    for subject, headers in cases.items():
        spoofed = receive(app, raw_mail(frm="Ada Admin <ada@team.test>", subject=subject, headers=headers))
        assert spoofed.outcome == "non_candidate", subject
        assert not spoofed.is_internal
        assert spoofed.sender_id is None
        assert spoofed.sender_auth == ("fail" if subject == "Failed" else "none"), subject
        assert "not filed as internal" in spoofed.outcome_reason
    auth.login(team.sam.email)  # not a recipient: the forgery is in the team's view, with a warning
    pane = client.get(f"/mail/non-candidates/{spoofed.thread_id}", headers=PANE).get_data(as_text=True)
    assert "Unverified sender." in pane
    assert "Convert to candidate" not in pane  # a team member's address never becomes a candidate's
    convert = post(
        client,
        auth,
        f"/mail/non-candidates/{spoofed.thread_id}/convert",
        {"first_name": "Ada", "last_name": "Admin", "email": "ada@team.test", "offer_id": ""},
    )
    assert convert.status_code == 404
    genuine_pane = client.get(f"/mail/non-candidates/{genuine.thread_id}", headers=PANE)
    assert genuine_pane.status_code == 404  # internal: Ada's and its recipients' only


def test_a_header_forged_below_our_servers_counts_for_nothing(app, team):
    raw = raw_mail(
        frm="ada@team.test", headers={"Authentication-Results": f"{OUR_MX}; dmarc=pass header.from=team.test"}
    )
    # Our server prepends its own verdict above whatever the sender wrote.
    raw = (
        f"Authentication-Results: {OUR_MX}; spf=softfail smtp.mailfrom=ada@team.test; dmarc=none\r\n".encode()
        + raw
    )
    raw = b"Received: from evil by mx\r\n" + raw
    msg = receive(app, raw)
    assert msg.outcome == "non_candidate"
    assert msg.sender_auth == "fail"


def test_a_candidates_address_unauthenticated_shows_a_warning(app, client, auth, team):
    msg = receive(app, raw_mail(frm="Léa <lea@outside.test>", subject="Wire me money"))
    assert msg.outcome == "candidate"
    assert msg.sender_auth == "none"
    auth.login(team.rita.email)
    pane = client.get(f"/mail/candidates/{msg.thread_id}", headers=PANE).get_data(as_text=True)
    assert "Unverified sender." in pane
    stranger = receive(app, raw_mail(frm="someone@else.example", subject="Hi"))
    assert stranger.sender_auth is None  # claims nobody of ours: nothing to warn about


@pytest.fixture
def no_trusted_server(app):
    """The app as deployed without INBOUND_AUTHSERV_IDS: no receiving server is trusted."""
    from dataclasses import replace

    from webapp.services import _KEY

    services = app.extensions[_KEY]
    app.extensions[_KEY] = replace(
        services, mail_domain=replace(services.mail_domain, authserv_ids=frozenset())
    )
    yield
    app.extensions[_KEY] = services


def test_with_no_trusted_server_candidate_mail_shows_no_warning_and_no_forgery_is_internal(
    app, client, auth, team, no_trusted_server
):
    msg = receive(app, raw_mail(frm="Léa <lea@outside.test>", subject="My portfolio"))
    assert (msg.outcome, msg.sender_auth) == ("candidate", "unknown")
    # Even a header naming a server counts for nothing when none is trusted.
    claimed = receive(
        app,
        raw_mail(
            frm="ada@team.test", subject="Urgent", headers={"Authentication-Results": passed("team.test")}
        ),
    )
    assert (claimed.outcome, claimed.is_internal, claimed.sender_id) == ("non_candidate", False, None)
    assert "not filed as internal" in claimed.outcome_reason
    auth.login(team.rita.email)
    pane = client.get(f"/mail/candidates/{msg.thread_id}", headers=PANE).get_data(as_text=True)
    assert "My portfolio" in pane
    assert "Unverified sender." not in pane  # nobody could check it: not a warning on every message
    as_user(auth, team.sam)
    forged = client.get(f"/mail/non-candidates/{claimed.thread_id}", headers=PANE).get_data(as_text=True)
    assert "Unverified sender." in forged  # a colleague's name on an outsider's mail says why


def test_an_admins_import_is_trusted(app, team):
    from webapp.receiving.importer import import_one
    from webapp.services import blob_store, mail_domain

    with app.test_request_context():
        result = import_one(
            "x.eml",
            raw_mail(frm="ada@team.test", subject="Old note"),
            settings=mail_domain(),
            store=blob_store(),
        )
    assert result.outcome == "internal"
