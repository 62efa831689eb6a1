"""Writing mail in the pane: the form, its errors in place, reply/forward, templates, actions."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.dom import parse
from webapp.extensions import db
from webapp.models import Message, Template
from webapp.models.types import utcnow

PANE = {"HX-Request": "true", "HX-Target": "message-pane"}


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend Engineer", "secret": "Secret"},
        users={"Rita Recruiter": {"offers": ["job"], "timezone": "Europe/Paris"}, "Sam Recruiter": []},
        candidates={"Alice Able": ["job"], "Bob Baker": ["job"], "Sue Secret": ["secret"]},
    )


@pytest.fixture
def rita(client, auth, team):
    auth.login(team.rita.email)
    return auth


def post(client, auth, data, url="/compose", files=None):
    token = auth.csrf_token("/mail/inbox")
    form = {"csrf_token": token, "preset": "now", **data}
    if files:
        form["attachments"] = files
    return client.post(url, data=form, headers=PANE, content_type="multipart/form-data")


def messages(app):
    with app.app_context():
        rows = list(db.session.scalars(select(Message).order_by(Message.id)))
        db.session.expunge_all()
        return rows


def test_form_has_labels_and_plain_buttons(client, rita):
    html = client.get("/compose", headers=PANE).get_data(as_text=True)
    assert "<html" not in html
    labels = {label.own_text for label in parse(html).find_all("label")}  # without hints: "(Europe/Paris)"
    for label in ("To", "Cc", "Bcc", "Subject", "Message", "Attachments", "Send at"):
        assert label in labels, label
    for button in ("Send", "Preview", "Cancel"):
        assert f">{button}</" in html
    assert "Europe/Paris" in html  # the zone "Send at" uses
    assert "Tomorrow 8:00" in html  # the presets say the time (tests/test_settings.py)
    assert "<html" in client.get("/compose").get_data(as_text=True)  # a reload renders the page


def test_send_now_queues_and_shows_the_conversation(app, client, rita, team, redis):
    response = post(client, rita, {"to": "alice@outside.test", "subject": "Hello", "body": "Hi Alice"})
    assert response.status_code == 200
    [msg] = messages(app)
    assert msg.status == "queued"
    assert msg.candidate_id == team.alice.id
    assert response.headers["HX-Push-Url"] == f"/mail/sent/{msg.thread_id}"
    assert 'class="thread-subject">Hello' in response.get_data(as_text=True)
    from webapp.queues import get_queue

    with app.app_context():  # a worker is woken to send it
        assert [j.func_name for j in get_queue("send").jobs] == ["webapp.jobs.send.send_due_job"]


def test_errors_come_back_in_place_with_422(app, client, rita, team):
    response = post(
        client,
        rita,
        {"to": "not-an-address", "cc": "bob@outside.test", "subject": "", "body": "Keep this text"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in html
    assert "Not a valid address: not-an-address" in html
    assert "Add a subject." in html
    assert "Keep this text" in html  # nothing the user typed is lost
    assert messages(app) == []


def test_candidate_in_cc_is_refused_with_a_link_to_bulk(app, client, rita, team):
    response = post(
        client, rita, {"to": "partner@agency.test", "cc": "alice@outside.test", "subject": "Intro"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "alice@outside.test is a candidate&#39;s address" in html
    assert 'href="/bulk/new"' in html
    response = post(
        client, rita, {"to": "partner@agency.test", "bcc": "ALICE@outside.test", "subject": "Intro"}
    )
    assert response.status_code == 422
    assert messages(app) == []


def test_send_later_presets_in_the_users_zone(app, client, rita, team):
    response = post(client, rita, {"to": "alice@outside.test", "subject": "Tomorrow", "preset": "tomorrow"})
    assert response.status_code == 200
    [msg] = messages(app)
    local = msg.scheduled_at.astimezone(ZoneInfo("Europe/Paris"))
    assert msg.status == "scheduled"
    assert (local.hour, local.minute) == (8, 0)
    assert local.date() == (utcnow().astimezone(ZoneInfo("Europe/Paris")) + timedelta(days=1)).date()
    assert response.headers["HX-Push-Url"] == f"/mail/scheduled/{msg.thread_id}"


def test_custom_time_is_read_in_the_users_zone_and_past_is_refused(app, client, rita, team):
    future = (utcnow() + timedelta(days=2)).astimezone(ZoneInfo("Europe/Paris")).replace(tzinfo=None)
    value = future.strftime("%Y-%m-%dT%H:%M")
    assert (
        post(
            client,
            rita,
            {"to": "alice@outside.test", "subject": "Later", "preset": "custom", "send_at": value},
        ).status_code
        == 200
    )
    [msg] = messages(app)
    assert msg.scheduled_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%dT%H:%M") == value
    past = post(
        client,
        rita,
        {"to": "alice@outside.test", "subject": "Past", "preset": "custom", "send_at": "2020-01-01T09:00"},
    )
    assert past.status_code == 422
    assert "Choose a time in the future." in past.get_data(as_text=True)


def test_reply_prefills_and_threads(app, client, rita, make, team):
    thread = make.thread("Application", candidate=team.alice)
    inbound = make.message(
        thread, candidate=team.alice, to_users=[team.rita], message_id="<in-1@outside.test>"
    )
    html = client.get(f"/compose/reply/{inbound.id}", headers=PANE).get_data(as_text=True)
    assert 'value="alice@outside.test"' in html
    assert 'value="Re: Application"' in html
    assert "&gt; Body of Application" in html  # the quoted history
    token = parse(html).one("input", name="reply_to_id").get("value")
    post(
        client,
        rita,
        {"to": "alice@outside.test", "subject": "Re: Application", "body": "Thanks", "reply_to_id": token},
    )
    reply = messages(app)[-1]
    assert reply.thread_id == thread.id
    assert reply.in_reply_to == "<in-1@outside.test>"


def test_reply_or_forward_of_an_invisible_message_is_404(client, rita, make, team):
    secret = make.message(candidate=team.sue, subject="Secret stuff")
    assert client.get(f"/compose/reply/{secret.id}", headers=PANE).status_code == 404
    assert client.get(f"/compose/forward/{secret.id}", headers=PANE).status_code == 404
    response = post(client, rita, {"to": "x@agency.test", "subject": "x", "forward_of_id": str(secret.id)})
    assert response.status_code == 404


def test_forward_carries_the_attachments(app, client, rita, make, team):
    from webapp.mail.storage import BlobStore
    from webapp.models import Attachment

    original = make.message(candidate=team.alice, subject="CV", to_users=[team.rita])
    with app.app_context():
        sha = BlobStore(app.config["STORAGE_DIR"]).put(b"%PDF cv bytes")
        db.session.add(
            Attachment(
                message_id=original.id, filename="cv.pdf", content_type="application/pdf", size=13, sha256=sha
            )
        )
        db.session.commit()
    html = client.get(f"/compose/forward/{original.id}", headers=PANE).get_data(as_text=True)
    assert 'value="Fwd: CV"' in html
    assert "cv.pdf" in html
    assert "Forwarded message" in html
    post(
        client,
        rita,
        {"to": "hiring-manager@partner.test", "subject": "Fwd: CV", "forward_of_id": str(original.id)},
    )
    sent = messages(app)[-1]
    with app.app_context():
        names = [a.filename for a in db.session.get(Message, sent.id).attachments]
    assert names == ["cv.pdf"]


def test_attachments_upload_and_size_limit(app, client, rita, team):
    from io import BytesIO

    ok = post(
        client,
        rita,
        {"to": "alice@outside.test", "subject": "Docs"},
        files=[(BytesIO(b"hello"), "../../etc/notes.txt")],
    )
    assert ok.status_code == 200
    with app.app_context():
        [att] = db.session.get(Message, messages(app)[-1].id).attachments
        assert att.filename == "notes.txt"
        assert att.size == 5
    app.config["COMPOSE_MAX_ATTACHMENT_BYTES"] = 10
    try:
        big = post(
            client,
            rita,
            {"to": "alice@outside.test", "subject": "Big"},
            files=[(BytesIO(b"x" * 100), "big.bin")],
        )
    finally:
        app.config["COMPOSE_MAX_ATTACHMENT_BYTES"] = 15 * 1024 * 1024
    assert big.status_code == 422
    assert "Attachments may not exceed" in big.get_data(as_text=True)


def test_placeholders_filled_for_the_recipient(app, client, rita, team):
    body = "Hi [candidate.first_name], about [job.title]. [sender.name]"
    assert (
        post(client, rita, {"to": "alice@outside.test", "subject": "[job.title]", "body": body}).status_code
        == 200
    )
    msg = messages(app)[-1]
    assert msg.subject == "Backend Engineer"
    assert msg.body_text == "Hi Alice, about Backend Engineer. Rita Recruiter"


def test_unknown_and_unfilled_placeholders_are_refused_by_name(app, client, rita, team):
    unknown = post(
        client, rita, {"to": "alice@outside.test", "subject": "x", "body": "Hi [candidate.nickname]"}
    )
    assert unknown.status_code == 422
    assert "Unknown placeholder: [candidate.nickname]" in unknown.get_data(as_text=True)
    unfilled = post(
        client, rita, {"to": "partner@agency.test", "subject": "x", "body": "Hi [candidate.first_name]"}
    )
    assert unfilled.status_code == 422
    assert "No value for [candidate.first_name]" in unfilled.get_data(as_text=True)
    fallback = post(
        client, rita, {"to": "partner@agency.test", "subject": "x", "body": "Hi [candidate.first_name|there]"}
    )
    assert fallback.status_code == 200
    assert messages(app)[-1].body_text == "Hi there"


def test_template_insert_and_live_preview(app, client, rita, team):
    with app.app_context():
        shared = Template(
            name="Invite", subject="Interview for [job.title]", body="Hi [candidate.first_name]!"
        )
        private = Template(name="Sam's", subject="x", body="y", owner_id=team.sam.id)
        db.session.add_all([shared, private])
        db.session.commit()
        shared_id, private_id = shared.id, private.id
    form = client.get("/compose", headers=PANE).get_data(as_text=True)
    assert ">Invite<" in form
    assert "Sam&#39;s" not in form
    fields = client.get(f"/compose/template?template_id={shared_id}", headers=PANE).get_data(as_text=True)
    assert 'value="Interview for [job.title]"' in fields
    assert "Hi [candidate.first_name]!" in fields
    assert client.get(f"/compose/template?template_id={private_id}", headers=PANE).status_code == 404
    token = rita.csrf_token("/mail/inbox")
    preview = client.post(
        "/compose/preview",
        headers=PANE,
        data={
            "csrf_token": token,
            "to": "alice@outside.test",
            "subject": "Interview for [job.title]",
            "body": "Hi [candidate.first_name]!",
        },
    ).get_data(as_text=True)
    assert "Interview for Backend Engineer" in preview
    assert "Hi Alice!" in preview


def test_scheduled_message_edit_cancel_send_now(app, client, rita, team):
    post(client, rita, {"to": "alice@outside.test", "subject": "Later", "preset": "monday"})
    [msg] = messages(app)
    pane = client.get(f"/mail/scheduled/{msg.thread_id}", headers=PANE).get_data(as_text=True)
    assert ">Edit<" in pane
    assert ">Send now<" in pane
    assert ">Cancel sending<" in pane
    form = client.get(f"/compose/edit/{msg.id}", headers=PANE).get_data(as_text=True)
    send_at = parse(form).one("input", name="send_at").get("value")
    edited = post(
        client,
        rita,
        {"to": "alice@outside.test", "subject": "Later, edited", "preset": "custom", "send_at": send_at},
        url=f"/compose/edit/{msg.id}",
    )
    assert edited.status_code == 200
    assert messages(app)[0].subject == "Later, edited"
    token = rita.csrf_token("/mail/inbox")
    now = client.post(f"/messages/{msg.id}/send-now?folder=scheduled", headers={**PANE, "X-CSRFToken": token})
    assert now.status_code == 200
    assert messages(app)[0].status == "queued"
    late = client.post(f"/messages/{msg.id}/cancel?folder=scheduled", headers={**PANE, "X-CSRFToken": token})
    assert "Too late" in late.get_data(as_text=True)
    assert messages(app)[0].status == "queued"


def test_actions_on_someone_elses_message_are_404(app, client, auth, make, team):
    theirs = make.message(direction="outbound", sender=team.sam, candidate=team.alice, status="scheduled")
    auth.login(team.rita.email)
    token = auth.csrf_token("/mail/inbox")
    for action in ("cancel", "send-now", "retry", "mark-sent"):
        response = client.post(f"/messages/{theirs.id}/{action}", headers={**PANE, "X-CSRFToken": token})
        assert response.status_code == 404
    assert client.get(f"/compose/edit/{theirs.id}", headers=PANE).status_code == 404
    assert client.post(f"/messages/{theirs.id}/cancel", headers=PANE).status_code == 400  # no CSRF token


def test_failed_message_shows_reason_and_retry(app, client, rita, make, team):
    failed = make.message(
        direction="outbound",
        sender=team.rita,
        candidate=team.alice,
        status="failed",
        error="550 5.1.1 mailbox unavailable",
    )
    pane = client.get(f"/mail/sent/{failed.thread_id}", headers=PANE).get_data(as_text=True)
    assert "550 5.1.1 mailbox unavailable" in pane
    assert ">Retry<" in pane
    token = rita.csrf_token("/mail/inbox")
    client.post(f"/messages/{failed.id}/retry", headers={**PANE, "X-CSRFToken": token})
    assert messages(app)[0].status == "queued"


def test_placeholders_never_fill_from_a_hidden_candidate(client, rita, team):
    token = rita.csrf_token("/mail/inbox")
    preview = client.post(
        "/compose/preview",
        headers=PANE,
        data={
            "csrf_token": token,
            "to": "sue@outside.test",
            "subject": "x",
            "body": "NAME=[candidate.full_name] JOB=[job.title]",
        },
    ).get_data(as_text=True)
    assert "Sue" not in preview
    assert "Secret" not in preview
    sent = post(client, rita, {"to": "sue@outside.test", "subject": "x", "body": "Hi [candidate.first_name]"})
    assert sent.status_code == 422
    assert "Sue" not in sent.get_data(as_text=True)


def test_the_domains_refusals_are_shown_in_the_users_language(app, client, rita, team):
    """The mail domain knows no language: a French user reads its refusals in French."""
    with app.app_context():
        db.session.get(type(team.rita), team.rita.id).locale = "fr"
        db.session.commit()
    # The Cc rule is the domain's own check (the form's validators pass).
    data = {"to": "bob@outside.test", "cc": "alice@outside.test", "subject": "Bonjour", "body": "Bonjour"}
    html = post(client, rita, data).get_data(as_text=True).replace("&#39;", "'")
    assert "alice@outside.test est l'adresse d'un candidat" in html
    assert "is a candidate's address" not in html
