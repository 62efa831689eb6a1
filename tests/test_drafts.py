"""Never lose work: drafts saved as one types, cancel and Undo send back to a draft, collisions."""

import io
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.dom import parse
from webapp.extensions import db
from webapp.mail.outbound.delivery import drain
from webapp.mail.outbound.transport import OutboxTransport
from webapp.models import FolderCount, Message
from webapp.models.types import utcnow
from webapp.services import blob_store, mail_domain

PANE = {"HX-Request": "true", "HX-Target": "message-pane"}


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend Engineer"},
        users={"Rita Recruiter": {"offers": ["job"]}, "Sam Recruiter": {"offers": ["job"]}},
        candidates={"Alice Able": ["job"]},
    )


@pytest.fixture
def rita(client, auth, team):
    auth.login(team.rita.email)
    return auth


def post(client, auth, data, url="/compose", files=None):
    form = {"csrf_token": auth.csrf_token("/mail/inbox"), "preset": "now", **data}
    if files:
        form["attachments"] = files
    return client.post(url, data=form, headers=PANE, content_type="multipart/form-data")


def autosave(client, auth, data):
    form = {"csrf_token": auth.csrf_token("/mail/inbox"), "preset": "now", **data}
    return client.post("/compose/draft", data=form, headers=PANE)


def rows(app, **where):
    with app.app_context():
        found = list(db.session.scalars(select(Message).filter_by(**where).order_by(Message.id)))
        db.session.expunge_all()
        return found


def drafts_count(app, user) -> int:
    with app.app_context():
        row = db.session.get(FolderCount, (user.id, "drafts"))
        return row.unread if row else 0


def test_a_new_email_is_kept_as_a_draft_as_one_types_and_only_its_author_sees_it(
    app, client, auth, rita, team
):
    saved = autosave(client, rita, {"to": "alice@outside.test", "subject": "Hello", "body": "First words"})
    assert saved.status_code == 200
    draft_id = parse(saved.get_data(as_text=True)).one("input", name="draft_id").get("value")
    again = autosave(
        client,
        rita,
        {"to": "alice@outside.test", "subject": "Hello", "body": "More words", "draft_id": draft_id},
    )
    assert "Draft saved" in again.get_data(as_text=True)
    [draft] = rows(app, status="draft")
    assert (str(draft.id), draft.body_text, draft.sender_id) == (draft_id, "More words", team.rita.id)
    assert not rows(app, status="queued")
    assert not rows(app, status="scheduled")

    page = client.get("/mail/drafts").get_data(as_text=True)
    assert "Hello" in page
    assert "More words" in page
    nav = parse(page).one("a", **{"data-folder": "drafts"})
    assert nav.find(class_="count").text == "1"  # Drafts, with their count
    assert parse(page).one(id="list-unread").text == "1 draft"
    opened = client.get(f"/mail/drafts/{draft.thread_id}", headers=PANE, follow_redirects=True)
    form = parse(opened.get_data(as_text=True))
    assert form.one("textarea", name="body").text.strip() == "More words"
    assert form.one("input", name="to").get("value") == "alice@outside.test"

    auth.logout()
    auth.login(team.sam.email)
    assert "More words" not in client.get("/mail/drafts").get_data(as_text=True)
    assert client.get(f"/mail/inbox/{draft.thread_id}", headers=PANE).status_code == 404
    assert client.get(f"/compose/draft/{draft.id}", headers=PANE).status_code == 404
    assert "More words" not in client.get("/search?q=words").get_data(as_text=True)
    token = auth.csrf_token("/mail/inbox")
    stolen = client.post(
        "/compose/draft",
        data={"csrf_token": token, "to": "x@outside.test", "subject": "x", "draft_id": str(draft.id)},
        headers=PANE,
    )
    assert "sent or deleted" in stolen.get_data(as_text=True)
    assert rows(app, status="draft")[0].body_text == "More words"  # Sam cannot write into it


def test_a_reply_draft_survives_switching_conversation_and_is_deleted_on_request(
    app, client, rita, make, team
):
    inbound = make.message(candidate=team.alice, to_users=[team.rita], subject="Application")
    other = make.message(candidate=team.alice, to_users=[team.rita], subject="Other")
    html = client.get(f"/compose/reply/{inbound.id}", headers=PANE).get_data(as_text=True)
    assert 'id="draft-state"' in html
    assert 'hx-trigger="input delay:1s from:#compose-form"' in html
    autosave(
        client,
        rita,
        {
            "to": "alice@outside.test",
            "subject": "Re: Application",
            "body": "Half a th",
            "reply_to_id": str(inbound.id),
        },
    )
    client.get(f"/mail/inbox/{other.thread_id}", headers=PANE)  # looks elsewhere
    pane = client.get(f"/mail/inbox/{inbound.thread_id}", headers=PANE).get_data(as_text=True)
    assert "Your draft" in pane
    assert "Half a th" in pane
    shown = parse(pane).find_all("section", "message")
    assert len(shown) == 1  # ... and never shows it as a message
    reopened = client.get(f"/compose/reply/{inbound.id}", headers=PANE).get_data(as_text=True)
    assert "Half a th" in reopened  # Reply goes on with the draft
    [draft] = rows(app, status="draft")
    assert draft.thread_id == inbound.thread_id
    assert drafts_count(app, team.rita) == 1

    token = rita.csrf_token("/mail/inbox")
    gone = client.post(
        f"/compose/draft/{draft.id}/delete?folder=inbox", headers={**PANE, "X-CSRFToken": token}
    )
    assert "Draft deleted." in gone.get_data(as_text=True)
    assert not rows(app, status="draft")
    assert drafts_count(app, team.rita) == 0
    assert rows(app, id=inbound.id)  # the conversation stays


def test_sending_a_draft_sends_it_once_and_removes_the_draft(app, client, rita, team):
    saved = autosave(client, rita, {"to": "alice@outside.test", "subject": "Hello", "body": "Hi"})
    draft_id = parse(saved.get_data(as_text=True)).one("input", name="draft_id").get("value")
    sent = post(
        client,
        rita,
        {"to": "alice@outside.test", "subject": "Hello", "body": "Hi there", "draft_id": draft_id},
    )
    assert sent.status_code == 200
    assert not rows(app, status="draft")
    [queued] = rows(app, status="queued")
    assert queued.body_text == "Hi there"
    assert drafts_count(app, team.rita) == 0
    late = autosave(client, rita, {"to": "alice@outside.test", "subject": "Hello", "draft_id": draft_id})
    assert "sent or deleted" in late.get_data(as_text=True)  # a save racing the send brings nothing back
    assert not rows(app, status="draft")


def test_cancelling_a_scheduled_email_makes_it_a_draft(app, client, rita, team):
    post(client, rita, {"to": "alice@outside.test", "subject": "Later", "body": "Text", "preset": "monday"})
    [msg] = rows(app)
    token = rita.csrf_token("/mail/inbox")
    answer = client.post(
        f"/messages/{msg.id}/cancel?folder=scheduled", headers={**PANE, "X-CSRFToken": token}
    )
    html = answer.get_data(as_text=True)
    assert "kept in Drafts" in html
    assert parse(html).one("input", name="subject").get("value") == "Later"
    assert rows(app)[0].status == "draft"
    assert "Later" in client.get("/mail/drafts").get_data(as_text=True)
    assert "Later" not in client.get("/mail/scheduled").get_data(as_text=True)


def test_undo_send_brings_everything_back_and_the_drain_waits_for_the_window(
    monkeypatch, app, client, rita, team, tmp_path
):
    monkeypatch.setitem(app.config, "UNDO_SEND_SECONDS", 10)
    sent = post(
        client,
        rita,
        {"to": "alice@outside.test", "cc": "boss@outside.test", "subject": "Offer", "body": "Dear Alice"},
        files=[(io.BytesIO(b"%PDF offer"), "offer.pdf")],
    )
    html = sent.get_data(as_text=True)
    assert "Sending…" in html
    assert ">Undo<" in html
    [msg] = rows(app)
    assert msg.status == "scheduled"
    assert 9 <= (msg.scheduled_at - msg.created_at).total_seconds() <= 11
    with app.app_context():
        drain(OutboxTransport(tmp_path), mail_domain(), blob_store(), budget=2)
    assert rows(app)[0].status == "scheduled"  # the worker leaves it alone during the window

    token = rita.csrf_token("/mail/inbox")
    undone = client.post(f"/messages/{msg.id}/undo", headers={**PANE, "X-CSRFToken": token})
    form = parse(undone.get_data(as_text=True))
    assert form.one("input", name="to").get("value") == "alice@outside.test"
    assert form.one("input", name="cc").get("value") == "boss@outside.test"
    assert form.one("input", name="subject").get("value") == "Offer"
    assert form.one("textarea", name="body").text.strip() == "Dear Alice"
    assert "offer.pdf" in undone.get_data(as_text=True)
    assert rows(app)[0].status == "draft"

    draft_id = form.one("input", name="draft_id").get("value")
    post(
        client,
        rita,
        {"to": "alice@outside.test", "subject": "Offer", "body": "Dear Alice", "draft_id": draft_id},
    )
    [again] = rows(app)
    assert again.status == "scheduled"
    assert again.has_attachments
    with app.app_context():
        assert [a.filename for a in db.session.get_one(Message, again.id).attachments] == ["offer.pdf"]


def test_undo_after_the_message_left_says_so(monkeypatch, app, client, rita, team):
    monkeypatch.setitem(app.config, "UNDO_SEND_SECONDS", 10)
    post(client, rita, {"to": "alice@outside.test", "subject": "Offer", "body": "x"})
    [msg] = rows(app)
    with app.app_context():
        db.session.get_one(Message, msg.id).status = "sent"
        db.session.commit()
    token = rita.csrf_token("/mail/inbox")
    late = client.post(f"/messages/{msg.id}/undo", headers={**PANE, "X-CSRFToken": token})
    assert "Too late to undo" in late.get_data(as_text=True)


def test_bulk_and_scheduled_sends_have_no_undo_window(monkeypatch, app, client, rita, team):
    monkeypatch.setitem(app.config, "UNDO_SEND_SECONDS", 10)
    later = post(
        client, rita, {"to": "alice@outside.test", "subject": "Later", "body": "x", "preset": "monday"}
    )
    assert ">Undo<" not in later.get_data(as_text=True)
    from webapp.mail.outbound import compose

    with app.app_context():
        user = db.session.get_one(type(team.rita), team.rita.id)
        data = compose.Compose(to=["bob@outside.test"], subject="Now", body="x")
        assert compose.create(user, data, mail_domain(), blob_store()).status == "queued"  # send now stays


def test_after_an_edit_the_pane_shows_the_message_as_it_now_is(app, client, rita, team):
    post(client, rita, {"to": "alice@outside.test", "subject": "Before", "body": "x", "preset": "monday"})
    [msg] = rows(app)
    form = client.get(f"/compose/edit/{msg.id}", headers=PANE).get_data(as_text=True)
    send_at = parse(form).one("input", name="send_at").get("value")
    edited = post(
        client,
        rita,
        {"to": "alice@outside.test", "subject": "After", "body": "y", "preset": "custom", "send_at": send_at},
        url=f"/compose/edit/{msg.id}",
    )
    pane = parse(edited.get_data(as_text=True)).one(id="message-pane").text
    assert "After" in pane
    assert "Before" not in pane


def test_a_reply_written_while_someone_else_replied_asks_to_confirm(app, client, rita, make, team):
    inbound = make.message(candidate=team.alice, to_users=[team.rita], subject="Application")
    html = client.get(f"/compose/reply/{inbound.id}", headers=PANE).get_data(as_text=True)
    seen = parse(html).one("input", name="seen_id").get("value")
    assert seen == str(inbound.id)
    make.message(
        SimpleNamespace(id=inbound.thread_id),
        direction="outbound",
        sender=team.sam,
        candidate=team.alice,
        subject="Re: Application",
        body_text="Sam answered first",
        at=utcnow() - timedelta(minutes=2),
    )
    data = {
        "to": "alice@outside.test",
        "subject": "Re: Application",
        "body": "Mine",
        "reply_to_id": str(inbound.id),
        "seen_id": seen,
    }
    refused = post(client, rita, data)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Sam Recruiter wrote 2 min ago" in text
    assert "Sam answered first" in text
    assert not rows(app, sender_id=team.rita.id)  # nothing sent before the user confirms
    confirm = parse(text).one("input", name="confirm_collision").get("value")
    assert post(client, rita, {**data, "confirm_collision": confirm}).status_code == 200
    assert [m.body_text for m in rows(app, sender_id=team.rita.id)] == ["Mine"]


def test_own_mail_is_no_collision(app, client, rita, make, team):
    inbound = make.message(candidate=team.alice, to_users=[team.rita], subject="Application")
    data = {
        "to": "alice@outside.test",
        "subject": "Re: Application",
        "body": "One",
        "reply_to_id": str(inbound.id),
        "seen_id": str(inbound.id),
    }
    assert post(client, rita, data).status_code == 200
    with app.app_context():
        db.session.execute(
            Message.__table__.update().where(Message.sender_id == team.rita.id).values(status="sent")
        )
        db.session.commit()
    assert post(client, rita, {**data, "body": "Two"}).status_code == 200


def test_after_send_now_the_pane_shows_the_time_it_leaves(app, client, rita, team):
    post(client, rita, {"to": "alice@outside.test", "subject": "Later", "body": "x", "preset": "monday"})
    [msg] = rows(app)
    token = rita.csrf_token("/mail/inbox")
    now = client.post(f"/messages/{msg.id}/send-now?folder=scheduled", headers={**PANE, "X-CSRFToken": token})
    shown = parse(now.get_data(as_text=True)).one("time", "message-date").get("datetime") or ""
    assert abs((datetime.fromisoformat(shown) - utcnow()).total_seconds()) < 60  # not Monday any more
    assert "Scheduled for" not in now.get_data(as_text=True)


def receive(app, raw: bytes, to: str) -> None:
    from webapp.mail.inbound.pipeline import classify_stored, store_inbound

    with app.app_context():
        stored = store_inbound(raw, store=blob_store(), source="smtp", envelope_to=[to])
        db.session.commit()
        classify_stored(stored.id, settings=mail_domain(), store=blob_store())


def test_a_candidates_reply_holds_mail_scheduled_to_them_until_the_author_confirms(
    app, client, rita, make, team, tmp_path
):
    from tests.mailmaker import raw_mail

    inbound = make.message(
        candidate=team.alice, to_users=[team.rita], subject="Application", message_id="<app-1@outside.test>"
    )
    data = {
        "to": "alice@outside.test",
        "subject": "Re: Application",
        "body": "See you Monday",
        "reply_to_id": str(inbound.id),
        "preset": "monday",
    }
    post(client, rita, data)
    [scheduled] = rows(app, status="scheduled")
    with app.app_context():
        me = db.session.get_one(type(team.rita), team.rita.id).inbound_address(mail_domain().domain)
    receive(
        app,
        raw_mail(
            frm="Alice Able <alice@outside.test>",
            to=me,
            subject="Re: Application",
            body="Actually I took another job",
            in_reply_to=scheduled.message_id,
        ),
        me,
    )
    held = rows(app, id=scheduled.id)[0]
    assert held.held_at is not None
    with app.app_context():  # its time comes: the drain leaves it
        row = db.session.get_one(Message, held.id)
        row.scheduled_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        drain(OutboxTransport(tmp_path), mail_domain(), blob_store(), budget=2)
    assert rows(app, id=held.id)[0].status == "scheduled"
    listed = client.get("/mail/scheduled").get_data(as_text=True)
    assert ">Held<" in listed
    pane = client.get(f"/mail/scheduled/{held.thread_id}", headers=PANE).get_data(as_text=True)
    assert "Held: Alice Able replied after you scheduled this." in pane

    token = rita.csrf_token("/mail/inbox")
    client.post(f"/messages/{held.id}/release?folder=scheduled", headers={**PANE, "X-CSRFToken": token})
    with app.app_context():
        drain(OutboxTransport(tmp_path), mail_domain(), blob_store(), budget=2)
    assert rows(app, id=held.id)[0].status == "sent"  # confirmed: it goes


def test_mail_scheduled_after_the_reply_is_not_held(app, client, rita, make, team):
    from tests.mailmaker import raw_mail

    inbound = make.message(candidate=team.alice, to_users=[team.rita], subject="Application")
    with app.app_context():
        me = db.session.get_one(type(team.rita), team.rita.id).inbound_address(mail_domain().domain)
    receive(
        app,
        raw_mail(frm="alice@outside.test", to=me, subject="Re: Application", in_reply_to=inbound.message_id),
        me,
    )
    post(
        client,
        rita,
        {
            "to": "alice@outside.test",
            "subject": "Re: Application",
            "body": "x",
            "reply_to_id": str(inbound.id),
            "preset": "monday",
        },
    )
    [scheduled] = rows(app, status="scheduled")
    assert scheduled.held_at is None


def test_a_reply_sent_without_the_drafts_id_still_clears_that_conversations_draft(
    app, client, rita, make, team
):
    inbound = make.message(candidate=team.alice, to_users=[team.rita], subject="Application")
    fields = {
        "to": "alice@outside.test",
        "subject": "Re: Application",
        "body": "Hi",
        "reply_to_id": str(inbound.id),
    }
    autosave(client, rita, fields)
    assert post(client, rita, fields).status_code == 200  # the save's answer had not come back yet
    assert not rows(app, status="draft")
    assert drafts_count(app, team.rita) == 0


def test_a_forward_is_kept_as_a_draft_and_forwarding_again_goes_on_with_it(app, client, rita, make, team):
    inbound = make.message(candidate=team.alice, to_users=[team.rita], subject="CV")
    html = client.get(f"/compose/forward/{inbound.id}", headers=PANE).get_data(as_text=True)
    assert 'id="draft-state"' in html  # the forward composer saves as one types
    saved = autosave(
        client,
        rita,
        {
            "to": "hm@partner.test",
            "subject": "Fwd: CV",
            "body": "Have a look",
            "forward_of_id": str(inbound.id),
        },
    )
    assert "Draft saved" in saved.get_data(as_text=True)
    [draft] = rows(app, status="draft")
    assert draft.forward_of_id == inbound.id
    assert draft.thread_id != inbound.thread_id  # a forward is a conversation of its own
    assert "Fwd: CV" in client.get("/mail/drafts").get_data(as_text=True)

    again = parse(client.get(f"/compose/forward/{inbound.id}", headers=PANE).get_data(as_text=True))
    assert again.one(id="body").text == "Have a look"
    assert again.one("input", name="forward_of_id").get("value") == str(inbound.id)
    opened = parse(client.get(f"/compose/draft/{draft.id}", headers=PANE).get_data(as_text=True))
    assert "Forward" in opened.one("h1").text
    # Sending it sends the forward (its conversation scope) and removes the draft.
    sent = post(
        client,
        rita,
        {
            "to": "alice@outside.test",
            "subject": "Fwd: CV",
            "body": "Have a look",
            "forward_of_id": str(inbound.id),
            "draft_id": str(draft.id),
        },
    )
    assert sent.status_code == 200
    assert not rows(app, status="draft")
    assert len(rows(app, status="queued")) == 1


def test_editing_a_scheduled_email_is_kept_while_looking_elsewhere_and_saved_into_it(app, client, rita, team):
    post(
        client, rita, {"to": "alice@outside.test", "subject": "Later", "body": "Old text", "preset": "monday"}
    )
    [msg] = rows(app)
    form = parse(client.get(f"/compose/edit/{msg.id}", headers=PANE).get_data(as_text=True))
    assert form.one(id="draft-state")
    send_at = form.one("input", name="send_at").get("value")
    edit = {
        "to": "alice@outside.test",
        "subject": "Later",
        "body": "New text half",
        "revises_id": str(msg.id),
    }
    assert "Draft saved" in autosave(client, rita, edit).get_data(as_text=True)
    [draft] = rows(app, status="draft")
    assert (draft.revises_id, draft.thread_id) == (msg.id, msg.thread_id)
    assert rows(app, id=msg.id)[0].body_text == "Old text"  # what leaves on Monday is unchanged so far
    assert "Later" in client.get("/mail/drafts").get_data(as_text=True)

    # Back to it (Edit again, or the draft from Drafts): the edit goes on where it was left.
    again = parse(client.get(f"/compose/edit/{msg.id}", headers=PANE).get_data(as_text=True))
    assert again.one(id="body").text == "New text half"
    assert "Edit scheduled email" in again.one("h1").text
    from_drafts = client.get(f"/mail/drafts/{msg.thread_id}", headers=PANE, follow_redirects=True)
    assert "Edit scheduled email" in parse(from_drafts.get_data(as_text=True)).one("h1").text
    # A reply in the same conversation is a reply, not this edit.
    reply = client.get(f"/compose/reply/{msg.id}", headers=PANE).get_data(as_text=True)
    assert "New text half" not in reply

    saved = post(
        client,
        rita,
        {**edit, "body": "New text", "preset": "custom", "send_at": send_at, "draft_id": str(draft.id)},
        url=f"/compose/edit/{msg.id}",
    )
    assert saved.status_code == 200
    assert rows(app, id=msg.id)[0].body_text == "New text"
    assert not rows(app, status="draft")


def test_an_edit_kept_after_its_message_left_is_a_draft_of_its_own(app, client, rita, team):
    post(client, rita, {"to": "alice@outside.test", "subject": "Later", "body": "Old", "preset": "monday"})
    [msg] = rows(app)
    autosave(
        client,
        rita,
        {"to": "alice@outside.test", "subject": "Later", "body": "Newer", "revises_id": str(msg.id)},
    )
    [draft] = rows(app, status="draft")
    with app.app_context():
        db.session.get(Message, msg.id).status = "sent"
        db.session.commit()
    opened = parse(client.get(f"/compose/draft/{draft.id}", headers=PANE).get_data(as_text=True))
    assert "New email" in opened.one("h1").text
    assert opened.one(id="body").text == "Newer"
    assert "left before these changes were saved" in opened.text


def test_the_compose_page_has_one_folder_list_and_a_new_draft_updates_it(client, rita):
    # Opened as a page (a link, a reload): the page's own folder list, none inside the form.
    page = parse(client.get("/compose?to=alice@outside.test").get_data(as_text=True))
    assert len(page.find_all(id="folder-nav")) == 1
    assert page.one("form", id="compose-form").find(id="folder-nav") is None
    # The save that makes a new draft sends the list out of band, with the Drafts count.
    saved = parse(
        autosave(client, rita, {"to": "alice@outside.test", "subject": "Hi"}).get_data(as_text=True)
    )
    nav = saved.one(id="folder-nav")
    assert nav.get("hx-swap-oob") == "true"
    assert nav.one("a", **{"data-folder": "drafts"}).find(class_="count").text == "1"
