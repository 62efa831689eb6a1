"""Bulk email: one message and conversation per candidate, deduped, access-checked, with progress."""

from email import message_from_bytes, policy

import pytest
from flask import render_template
from sqlalchemy import select

from tests.dom import parse
from webapp.extensions import db
from webapp.models import BulkSend, Message, Template

HX = {"HX-Request": "true", "HX-Target": "bulk-compose"}
PROGRESS = {"HX-Request": "true", "HX-Target": "bulk-progress"}


@pytest.fixture
def team(bulk_team):
    return bulk_team


def send_bulk(client, auth, offers=(), candidates=(), confirm=True, **data):
    """POST the bulk form as htmx does, then (`confirm`) press Confirm on the confirmation it shows."""
    token = auth.csrf_token("/mail/inbox")
    form = {"csrf_token": token, "subject": "Hello", "body": "Hi [candidate.first_name]", **data}
    form["offer"] = [str(o.id) for o in offers]
    form["candidate"] = [str(c) for c in candidates]
    response = client.post("/bulk", data=form, headers=HX)
    key = confirm_button(response.get_data(as_text=True))
    if not confirm or response.status_code != 200 or key is None:
        return response
    return client.post("/bulk", data={**form, "confirm": key}, headers=HX)


def confirm_button(html: str) -> str | None:
    """The value of the confirmation's Confirm button, if the answer is the confirmation."""
    button = parse(html).find("button", name="confirm")
    return button.get("value") if button else None


def bulk_messages(app) -> list[Message]:
    with app.app_context():
        rows = list(
            db.session.scalars(select(Message).where(Message.bulk_id.is_not(None)).order_by(Message.id))
        )
        db.session.expunge_all()
        return rows


def problems_listed(html: str) -> list[str]:
    """The candidates whose placeholders fail, one line each, as the summary shows them."""
    found = parse(html).find("ul", class_="bulk-problems")
    return [item.text for item in found.find_all("li")] if found else []


def send_oldest(app, count) -> None:
    """Send the `count` oldest due messages, as a drain's claimed batch does."""
    from webapp.mail.outbound import delivery
    from webapp.mail.outbound.transport import transport_for
    from webapp.services import blob_store, mail_domain

    with app.app_context():
        transport = transport_for(app.config)
        try:
            delivery.send_claimed(delivery.claim_batch(count), transport, mail_domain(), blob_store())
        finally:
            transport.close()


def test_each_candidate_gets_a_separate_message_with_their_placeholders(app, client, auth, team, redis, smtp):
    auth.login(team.rita.email)
    response = send_bulk(
        client,
        auth,
        offers=[team.job],
        subject="Interview for [job.title]",
        body="Hi [candidate.first_name], this is [sender.name] at [company.name].",
    )
    assert response.status_code == 200
    messages = bulk_messages(app)
    assert response.headers["HX-Redirect"] == f"/bulk/{messages[0].bulk_id}"
    assert sorted(m.to_addresses[0] for m in messages) == ["alice@outside.test", "bob@outside.test"]
    assert all(len(m.to_addresses) == 1 and not m.cc_addresses and not m.bcc_addresses for m in messages)
    assert len({m.thread_id for m in messages}) == 2  # a conversation each
    assert {m.candidate_id for m in messages} == {team.alice.id, team.bob.id}
    assert all(m.status == "queued" for m in messages)
    from webapp.queues import get_queue

    with app.app_context():  # queued after the commit: one wake-up job for the whole send
        [wake] = get_queue("send").jobs
        assert wake.func_name == "webapp.jobs.send.send_due_job"
        bulk = db.session.scalar(select(BulkSend))
        assert bulk.total == 2
        assert bulk.user_id == team.rita.id
        assert bulk.subject == "Interview for [job.title]"
        assert wake.perform() == 2  # what the worker runs: it sends both
    assert len(smtp.messages) == 2
    company = app.config["COMPANY_NAME"]
    for got in smtp.messages:
        email = message_from_bytes(got.data, policy=policy.default)
        [address] = got.rcpt_tos
        assert email["To"] == address
        assert email["Cc"] is None
        first = "Alice" if address.startswith("alice") else "Bob"
        assert email["Subject"] == "Interview for Backend Engineer"
        body = email.get_body().get_content()
        assert f"Hi {first}, this is Rita Recruiter at {company}." in body
        other = "bob@outside.test" if first == "Alice" else "alice@outside.test"
        assert other.encode() not in got.data  # nobody sees who else got it


def test_a_candidate_on_several_offers_gets_one_email(app, client, auth, team, redis):
    auth.login(team.rita.email)
    page = client.get(f"/bulk/new?offer={team.job.id}&offer={team.pool.id}").get_data(as_text=True)
    assert "<html" in page
    assert "3 recipients" in page
    assert "Send 3 emails" in page
    assert page.count(">Bob Baker<") == 1
    assert "Skipped: 1 candidate without an email address" in page
    assert "Nora Nomail" in page
    response = send_bulk(client, auth, offers=[team.job, team.pool], candidates=[team.bob.id])
    assert response.status_code == 200
    assert sorted(m.to_addresses[0] for m in bulk_messages(app)) == [
        "alice@outside.test",
        "bob@outside.test",
        "carl@outside.test",
    ]


def test_job_title_is_the_chosen_offer_and_ambiguity_is_refused(app, client, auth, team, redis):
    auth.login(team.rita.email)
    refused = send_bulk(client, auth, offers=[team.job, team.pool], subject="About [job.title]")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "<html" not in html
    # Bob is on both chosen offers: which job he means is unknown, so nobody gets the email.
    # Carl is on the talent pool only, and a talent pool is not a job: its name is no job title.
    assert problems_listed(html) == [
        "Bob Baker: no value for [job.title]",
        "Carl Cole: no value for [job.title] (“Talent Pool” is a talent pool, not a job)",
    ]
    assert bulk_messages(app) == []
    ok = send_bulk(client, auth, offers=[team.job, team.pool], subject="About [job.title|our roles]")
    assert ok.status_code == 200
    subjects = {m.to_addresses[0]: m.subject for m in bulk_messages(app)}
    assert subjects == {
        "alice@outside.test": "About Backend Engineer",
        "bob@outside.test": "About our roles",
        "carl@outside.test": "About our roles",
    }
    with app.app_context():
        threads = {
            m.to_addresses[0]: db.session.get(Message, m.id).thread.offer_id for m in bulk_messages(app)
        }
    assert threads["alice@outside.test"] == team.job.id
    assert threads["carl@outside.test"] == team.pool.id


def test_unfilled_placeholder_refuses_the_whole_bulk_naming_candidate_and_placeholder(
    app, client, auth, make, team, redis
):
    make.candidate("Zed", offers=[team.job], emails=["zed@outside.test"])  # no last name
    auth.login(team.rita.email)
    response = send_bulk(
        client, auth, offers=[team.job], body="Dear [candidate.first_name] [candidate.last_name]"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="bulk-compose"' in html
    assert "No email was sent" in html
    # Only the candidates with a problem are named (not Alice), each with what fails.
    assert problems_listed(html) == ["Zed: no value for [candidate.last_name]"]
    assert bulk_messages(app) == []
    with app.app_context():
        assert db.session.scalar(select(BulkSend)) is None
    unknown = send_bulk(client, auth, offers=[team.job], body="Hi [candidate.nickname]")
    assert unknown.status_code == 422
    assert "unknown placeholder [candidate.nickname]" in unknown.get_data(as_text=True)


def test_offers_out_of_reach_404_and_invisible_candidates_are_left_out(app, client, auth, team, redis):
    auth.login(team.rita.email)
    assert client.get(f"/bulk/new?offer={team.secret.id}").status_code == 404
    assert send_bulk(client, auth, offers=[team.secret]).status_code == 404
    assert client.get("/bulk/new?offer=999999").status_code == 404
    page = client.get(
        f"/bulk/new?candidate={team.sue.id}&candidate={team.alice.id}&candidate=999999&candidate=x"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Sue Secret" not in html
    assert "Alice Able" in html
    assert "2 picked candidates were left out" in html
    assert "Secret Job" not in html  # only offers Rita can access are offered
    response = send_bulk(client, auth, candidates=[team.sue.id, team.alice.id])
    assert response.status_code == 200
    assert [m.to_addresses for m in bulk_messages(app)] == [["alice@outside.test"]]


def test_nothing_to_send_is_refused(app, client, auth, team):
    auth.login(team.rita.email)
    response = send_bulk(client, auth, candidates=[team.sue.id, team.nora.id])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "No recipient with an email address" in html
    blank = send_bulk(client, auth, offers=[team.job], subject="")
    assert blank.status_code == 422
    assert "Add a subject." in blank.get_data(as_text=True)
    assert bulk_messages(app) == []


def test_admin_reaches_every_offer(app, client, auth, team, redis):
    auth.login(team.ada.email)
    page = client.get("/bulk/new").get_data(as_text=True)
    assert "Secret Job" in page
    assert "Backend Engineer" in page
    assert send_bulk(client, auth, offers=[team.secret]).status_code == 200
    assert [m.to_addresses for m in bulk_messages(app)] == [["sue@outside.test"]]


def test_progress_counts_and_stops_polling_when_done(app, client, auth, team, redis, smtp):
    smtp.handler.refuse["bob@outside.test"] = "550 5.1.1 No such user"
    auth.login(team.rita.email)
    send_bulk(client, auth, offers=[team.job])
    messages = bulk_messages(app)
    url = f"/bulk/{messages[0].bulk_id}"
    page = client.get(url)
    assert page.status_code == 200
    assert "<html" in page.get_data(as_text=True)
    partial = client.get(url, headers=PROGRESS).get_data(as_text=True)
    assert "<html" not in partial
    assert 'id="bulk-progress"' in partial
    assert 'hx-trigger="every 1s"' in partial
    assert 'data-status="queued">2<' in partial

    send_oldest(app, 1)  # messages[0]
    partial = client.get(url, headers=PROGRESS).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in partial
    assert 'data-status="queued">1<' in partial
    send_oldest(app, len(messages) - 1)
    partial = client.get(url, headers=PROGRESS).get_data(as_text=True)
    assert "hx-trigger" not in partial  # the last answer has no trigger: htmx stops polling
    assert 'data-status="sent">1<' in partial
    assert 'data-status="failed">1<' in partial
    assert 'data-status="queued">0<' in partial
    assert "No such user" in partial
    assert "Alice Able" in partial
    assert "Bob Baker" in partial


def test_another_users_bulk_is_404(app, client, auth, team, redis):
    auth.login(team.rita.email)
    send_bulk(client, auth, offers=[team.job])
    url = f"/bulk/{bulk_messages(app)[0].bulk_id}"
    auth.logout()
    auth.login(team.sam.email)
    assert client.get(url).status_code == 404
    assert client.get(url, headers=PROGRESS).status_code == 404
    assert client.get("/bulk/999999").status_code == 404
    auth.logout()
    auth.login(team.ada.email)
    assert client.get(url).status_code == 200  # admins see every bulk


def test_template_fills_the_fields_and_the_summary_previews_the_first_recipient(app, client, auth, team):
    with app.app_context():
        template = Template(
            name="Invite", subject="Interview: [job.title]", body="Hi [candidate.first_name]!"
        )
        secret = Template(name="Sam's", subject="x", body="y", owner_id=team.sam.id)
        db.session.add_all([template, secret])
        db.session.commit()
        template_id, secret_id = template.id, secret.id
    auth.login(team.rita.email)
    page = client.get("/bulk/new").get_data(as_text=True)
    assert ">Invite<" in page
    assert "Sam&#39;s" not in page
    assert 'hx-get="/bulk/new/template"' in page  # choosing a template swaps the fields
    fields = client.get(f"/bulk/new/template?template_id={template_id}", headers={"HX-Request": "true"})
    assert fields.headers["HX-Trigger-After-Swap"] == "bulk-fields-changed"
    assert 'value="Interview: [job.title]"' in fields.get_data(as_text=True)
    assert client.get(f"/bulk/new/template?template_id={secret_id}").status_code == 404
    assert client.get("/bulk/new/template?template_id=").status_code == 204
    prefilled = client.get(f"/bulk/new?template_id={template_id}&offer={team.job.id}").get_data(as_text=True)
    assert 'value="Interview: [job.title]"' in prefilled
    token = auth.csrf_token("/mail/inbox")
    summary = client.post(
        "/bulk/new/summary",
        headers={"HX-Request": "true"},
        data={
            "csrf_token": token,
            "offer": [str(team.job.id)],
            "subject": "Interview: [job.title]",
            "body": "Hi [candidate.first_name]!",
        },
    ).get_data(as_text=True)
    assert "<html" not in summary
    assert "2 recipients" in summary
    assert "As Alice Able (alice@outside.test) will read it" in summary
    assert "Hi Alice!" in summary
    assert "Interview: Backend Engineer" in summary
    assert 'id="bulk-send-label" hx-swap-oob="true">Send 2 emails<' in summary


def test_list_action_links_the_candidates_shown(app, team):
    from webapp.mail.read.folders import FOLDERS_BY_SLUG

    row = type("Row", (), {})
    rows = []
    for candidate_id in (team.alice.id, team.bob.id, team.alice.id, None):
        r = row()
        r.message = type("M", (), {"candidate_id": candidate_id})()
        rows.append(r)
    with app.test_request_context():
        html = render_template("bulk/_list_action.html", folder=FOLDERS_BY_SLUG["candidates"], rows=rows)
        assert f'href="/bulk/new?candidate={team.alice.id}&amp;candidate={team.bob.id}"' in html
        assert ">Bulk email<" in html
        none = render_template("bulk/_list_action.html", folder=FOLDERS_BY_SLUG["non-candidates"], rows=rows)
        assert "Bulk email" not in none


def test_compose_link_lands_on_a_working_page(client, auth, team):
    auth.login(team.rita.email)
    page = client.get("/bulk/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Back to the inbox" in html
    assert 'name="csrf_token"' in html
    assert "Tick an offer, or pick candidates in a folder" in html


# Confirmation, talent pools, send later, ticking rows (issue 12)


def test_nothing_is_written_before_the_user_confirms_n_and_the_first_message(app, client, auth, team, redis):
    auth.login(team.rita.email)
    first = send_bulk(
        client,
        auth,
        offers=[team.job],
        confirm=False,
        subject="About [job.title]",
        body="Hi [candidate.first_name]!",
    )
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert bulk_messages(app) == []
    with app.app_context():
        assert db.session.scalar(select(BulkSend)) is None
    confirm = parse(html).one("section", class_="bulk-confirm")
    assert confirm.one("h2").text == "Send this email to 2 people?"
    assert "As Alice Able (alice@outside.test) will read it:" in confirm.text
    assert confirm.one("p", class_="bulk-confirm-subject").text == "About Backend Engineer"
    assert confirm.one("div", class_="text-body").text == "Hi Alice!"
    assert confirm.one("button", name="confirm").text == "Send 2 emails"
    # Back: the form as it was written, nothing lost, nothing sent.
    token = auth.csrf_token("/mail/inbox")
    form = {"csrf_token": token, "subject": "About [job.title]", "body": "Hi [candidate.first_name]!"}
    back = client.post("/bulk", data={**form, "offer": [str(team.job.id)], "step": "back"}, headers=HX)
    page = parse(back.get_data(as_text=True))
    assert back.status_code == 200
    assert page.find("section", class_="bulk-confirm") is None
    assert page.one("input", name="subject").get("value") == "About [job.title]"
    assert page.one("textarea", name="body").text == "Hi [candidate.first_name]!"
    assert page.one("input", name="offer", value=str(team.job.id)).get("checked") is not None
    assert bulk_messages(app) == []
    # What was confirmed is what is sent: a text changed after the confirmation asks again.
    key = confirm_button(html)
    changed = client.post(
        "/bulk", data={**form, "subject": "Other", "offer": [str(team.job.id)], "confirm": key}, headers=HX
    )
    assert "changed since you confirmed" in changed.get_data(as_text=True)
    assert bulk_messages(app) == []
    sent = client.post("/bulk", data={**form, "offer": [str(team.job.id)], "confirm": key}, headers=HX)
    assert sent.headers["HX-Redirect"].startswith("/bulk/")
    assert len(bulk_messages(app)) == 2


def test_a_talent_pool_never_fills_job_title_in_compose_either(app, client, auth, team, redis):
    auth.login(team.rita.email)
    send_bulk(client, auth, candidates=[team.carl.id], subject="Hello [job.title|there]")
    [carl_msg] = bulk_messages(app)
    token = auth.csrf_token("/mail/inbox")
    reply = client.post(
        "/compose",
        data={
            "csrf_token": token,
            "to": "carl@outside.test",
            "subject": "About [job.title]",
            "body": "Hi",
            "preset": "now",
            "reply_to_id": str(carl_msg.id),
        },
        headers={"HX-Request": "true", "HX-Target": "message-pane"},
    )
    html = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "No value for [job.title] for this recipient" in html
    assert "About Talent Pool" not in html
    assert len(bulk_messages(app)) == 1


def local_in(app, user, minutes: int) -> str:
    """A time `minutes` from now as the user types it in their zone (datetime-local)."""
    from datetime import timedelta

    from webapp.compose import prefill
    from webapp.models.types import utcnow

    with app.app_context():
        zone = db.session.get(type(user), user.id).timezone
    return prefill.to_local_naive(utcnow() + timedelta(minutes=minutes), zone).strftime("%Y-%m-%dT%H:%M")


def due_now(app) -> None:
    """Their time has come: every scheduled message is due."""
    from datetime import timedelta

    from webapp.models.types import utcnow

    with app.app_context():
        for msg in db.session.scalars(select(Message).where(Message.status == "scheduled")):
            msg.scheduled_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def test_send_later_schedules_each_message_and_the_drain_sends_each_once(
    app, client, auth, team, redis, smtp
):
    auth.login(team.rita.email)
    at = local_in(app, team.rita, 90)
    first = send_bulk(client, auth, offers=[team.job], confirm=False, preset="custom", send_at=at)
    confirm = parse(first.get_data(as_text=True)).one("section", class_="bulk-confirm")
    assert "sent " in confirm.text
    assert "you can cancel them" in confirm.text
    assert confirm.one("button", name="confirm").text == "Schedule 2 emails"
    response = send_bulk(client, auth, offers=[team.job], preset="custom", send_at=at)
    messages = bulk_messages(app)
    assert response.headers["HX-Redirect"] == f"/bulk/{messages[0].bulk_id}"
    assert [m.status for m in messages] == ["scheduled", "scheduled"]
    assert all(m.scheduled_at is not None for m in messages)
    progress = client.get(f"/bulk/{messages[0].bulk_id}", headers=PROGRESS).get_data(as_text=True)
    assert "Scheduled: 2 emails will be sent" in progress
    assert 'hx-trigger="every 30s"' in progress
    send_oldest(app, 10)  # not due yet: nothing leaves
    assert smtp.messages == []
    due_now(app)
    send_oldest(app, 10)
    send_oldest(app, 10)  # a second drain finds nothing left
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["alice@outside.test", "bob@outside.test"]
    assert [m.status for m in bulk_messages(app)] == ["sent", "sent"]
    # A time in the past, or no time, is refused on the field.
    past = send_bulk(client, auth, offers=[team.job], preset="custom", send_at=local_in(app, team.rita, -5))
    assert past.status_code == 422
    assert "Choose a time in the future." in past.get_data(as_text=True)
    none = send_bulk(client, auth, offers=[team.job], preset="custom")
    assert none.status_code == 422
    assert "Choose a date and time." in none.get_data(as_text=True)


def test_the_presets_are_composes(app, client, auth, team):
    auth.login(team.rita.email)

    def options(url: str) -> list[tuple[str, str]]:
        select = parse(client.get(url).get_data(as_text=True)).one("select", name="preset")
        return [(o.get("value"), o.text) for o in select.find_all("option")]

    bulk = options("/bulk/new")
    assert bulk == options("/compose")  # the same choices, the same words, whatever the day
    assert bulk[0][0] == "now"
    assert bulk[-1][0] == "custom"


def test_cancelling_a_scheduled_bulk_from_its_page(app, client, auth, team, redis, smtp):
    auth.login(team.rita.email)
    send_bulk(client, auth, offers=[team.job], preset="tomorrow")
    messages = bulk_messages(app)
    url = f"/bulk/{messages[0].bulk_id}"
    page = parse(client.get(url).get_data(as_text=True))
    assert page.one("form", class_="bulk-cancel").one("button").text == "Cancel the 2 scheduled emails"
    # Another user, even an admin who can see the bulk, cannot withdraw Rita's mail.
    auth.logout()
    auth.login(team.ada.email)
    token = auth.csrf_token("/mail/inbox")
    assert client.post(f"{url}/cancel", data={"csrf_token": token}).status_code == 404
    assert parse(client.get(url).get_data(as_text=True)).find("form", class_="bulk-cancel") is None
    auth.logout()
    auth.login(team.rita.email)
    token = auth.csrf_token("/mail/inbox")
    done = client.post(f"{url}/cancel", data={"csrf_token": token}, headers=PROGRESS)
    html = done.get_data(as_text=True)
    assert "Cancelled: nothing was sent." in html
    assert "bulk-cancel" not in html
    assert [m.status for m in bulk_messages(app)] == ["cancelled", "cancelled"]
    due_now(app)
    send_oldest(app, 10)
    assert smtp.messages == []


def test_cancel_leaves_what_already_left(app, client, auth, team, redis, smtp):
    auth.login(team.rita.email)
    send_bulk(client, auth, offers=[team.job], preset="tomorrow")
    messages = bulk_messages(app)
    with app.app_context():  # Alice's went early (sent now from Scheduled)
        db.session.get(Message, messages[0].id).scheduled_at = None
        db.session.get(Message, messages[0].id).status = "queued"
        db.session.commit()
    send_oldest(app, 10)
    token = auth.csrf_token("/mail/inbox")
    client.post(f"/bulk/{messages[0].bulk_id}/cancel", data={"csrf_token": token})
    assert [m.status for m in bulk_messages(app)] == ["sent", "cancelled"]
    assert len(smtp.messages) == 1


def test_rows_can_be_ticked_and_email_selected_opens_bulk_with_them(app, client, auth, make, team, redis):
    for candidate in (team.alice, team.bob):
        make.message(make.thread(candidate=candidate, offer=team.job), candidate=candidate)
    auth.login(team.rita.email)
    page = parse(client.get("/mail/candidates").get_data(as_text=True))
    picker = page.one("form", id="bulk-pick")
    assert picker.get("action") == "/bulk/new"
    assert picker.get("method") == "get"
    assert picker.one("button").text == "Email selected"
    ticks = page.find_all("input", class_="row-pick")
    assert sorted(int(t.get("value")) for t in ticks) == sorted([team.alice.id, team.bob.id])
    assert all(t.get("form") == "bulk-pick" and t.get("name") == "candidate" for t in ticks)
    assert {t.get("aria-label") for t in ticks} == {"Select Alice Able", "Select Bob Baker"}
    # What the browser sends for Bob ticked (and an id tampered in): only the visible candidate.
    chosen = client.get(f"/bulk/new?candidate={team.bob.id}&candidate={team.sue.id}").get_data(as_text=True)
    summary = parse(chosen).one("section", id="bulk-summary")
    assert [n.text for n in summary.find_all("span", class_="recipient-name")] == ["Bob Baker"]
    assert "1 picked candidate was left out" in summary.text
