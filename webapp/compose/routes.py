"""Compose views: thin; validation and sending live in webapp/mail/outbound/compose.py."""

from datetime import date, datetime, timedelta

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from webapp import audit
from webapp.compose import bp, prefill
from webapp.compose.forms import ComposeForm
from webapp.extensions import db
from webapp.htmx import is_htmx
from webapp.jobs.enqueue import wake_sender
from webapp.mail.inbound.parse import safe_filename
from webapp.mail.outbound import compose, drafts, placeholders
from webapp.mail.outbound.build import OutgoingFile
from webapp.mail.outbound.compose import Compose, ComposeError
from webapp.mail.read import folders
from webapp.mail.read.access import has_offer_access
from webapp.mail.sync import shared
from webapp.mailtemplates.operations import usable, usable_by_id
from webapp.models import Message, Offer, Placement, Thread
from webapp.models.types import utcnow
from webapp.panes.conversation import folder_or_404, nav_context, render_conversation, render_pane
from webapp.people import address_notes
from webapp.people import operations as people
from webapp.people.queries import visible_candidate
from webapp.request_limits import allow_bytes
from webapp.services import blob_store, mail_domain
from webapp.templating import translate

COMPOSE_PANE = "compose/_compose.html"


def _templates():
    """The user's own templates and the shared ones."""
    return usable(current_user)


def _form(**data) -> ComposeForm:
    form = ComposeForm(data=data) if data else ComposeForm()
    form.template_id.choices = [("", _("No template"))] + [(str(t.id), t.name) for t in _templates()]
    choices = [
        ("now", _("Now")),
        *prefill.preset_choices(current_user.timezone),
    ]
    form.preset.choices = [*choices, ("custom", _("At a chosen time"))]
    _sender_choices(form)
    return form


def _chosen_from(form: ComposeForm) -> str:
    """The From address the form chose: a shared mailbox the user shares, else their own."""
    chosen = form.sender.data or ""
    mailbox = next((c for c in shared.sendable_for(current_user.id) if str(c.id) == chosen), None)
    return mailbox.username if mailbox is not None else current_user.inbound_address(mail_domain().domain)


def _sender_choices(form: ComposeForm) -> None:
    """From: the user's own address, then the shared mailboxes they share (the last one used
    selected when the composer opens)."""
    mailboxes = shared.sendable_for(current_user.id)
    own = current_user.inbound_address(mail_domain().domain)
    form.sender.choices = [("", f"{current_user.name} <{own}>")] + [
        (str(c.id), f"{c.name} <{c.username}>") for c in mailboxes
    ]
    if request.method == "GET":
        last = shared.last_used(current_user.id, mailboxes)
        form.sender.data = str(last.id) if last is not None else ""


def _show(form: ComposeForm, status: int = 200, **context):
    return render_pane(
        request.args.get("folder", "inbox"),
        COMPOSE_PANE,
        status=status,
        form=form,
        timezone=current_user.timezone,
        recipient_notes=address_notes.notes_for(current_user, form.to.data, date.today()),
        **context,
    )


def _visible_or_404(message_id) -> Message:
    msg = folders.visible_message(current_user, int(message_id)) if str(message_id).isdigit() else None
    if msg is None:
        abort(404)
    return msg


@bp.route("/compose")
def new():
    """A blank message (optionally to an address given in ?to=)."""
    return _show(_form(to=request.args.get("to", ""), body=current_user.signature_block, preset="now"))


@bp.route("/compose/reply/<int:message_id>")
def reply(message_id: int):
    """Reply (or reply all with ?all=1) to a message the user can see, quoting it."""
    msg = _visible_or_404(message_id)
    if msg.thread_id is not None:
        draft = drafts.in_thread(current_user.id, msg.thread_id, reply=True)
        if draft is not None:  # one reply draft per conversation: writing again goes on with it
            return _show_draft(draft)
    me = current_user.inbound_address(mail_domain().domain)
    to, cc = prefill.reply_recipients(msg, me, reply_all=request.args.get("all") == "1")
    body = current_user.signature_block + prefill.quoted(msg)
    form = _form(
        to=", ".join(to),
        cc=", ".join(cc),
        subject=prefill.with_prefix("Re:", msg.subject),
        body=body,
        reply_to_id=str(msg.id),
        preset="now",
        seen_id=str(drafts.newest_seen(current_user, msg.thread_id) or msg.id) if msg.thread_id else "",
    )
    return _show(form, replying_to=msg)


def _show_draft(draft: Message, status: int = 200, **context):
    """The composer with a draft in it, as it was left: a reply, a forward, a new email, or the
    edit of a scheduled message (a plain draft again once that message has left)."""
    fields = {
        "to": ", ".join(draft.to_addresses),
        "cc": ", ".join(draft.cc_addresses),
        "bcc": ", ".join(draft.bcc_addresses),
        "subject": draft.subject,
        "body": draft.body_text,
        "preset": "now",
    }
    if draft.revises_id is not None:
        editing = _own_scheduled(draft.revises_id)
        if editing is not None and editing.scheduled_at is not None:
            form = _form(
                **{**fields, "preset": "custom"},
                revises_id=str(editing.id),
                send_at=prefill.to_local_naive(editing.scheduled_at, current_user.timezone),
            )
            return _show(form, status=status, editing=editing, draft=draft, **context)
        context.setdefault(
            "notice", _("The scheduled email left before these changes were saved: they are kept here.")
        )
    forwarding = folders.visible_message(current_user, draft.forward_of_id) if draft.forward_of_id else None
    if forwarding is not None:
        form = _form(**fields, forward_of_id=str(forwarding.id))
        return _show(form, status=status, forwarding=forwarding, draft=draft, **context)
    answered = drafts.answered(draft)
    form = _form(
        **fields,
        reply_to_id=str(answered.id) if answered is not None else "",
        # Mail newer than the draft was not there when it was begun: it is shown before sending.
        seen_id=str(draft.id) if answered is not None else "",
    )
    # The From the draft was written with, rather than the last one used.
    kept = next((c for c in shared.sendable_for(current_user.id) if c.username == draft.from_address), None)
    form.sender.data = str(kept.id) if kept is not None else ""
    return _show(form, status=status, replying_to=answered, draft=draft, **context)


def _own_scheduled(message_id) -> Message | None:
    """The user's own message while it is still scheduled (editable), else None."""
    msg = db.session.get(Message, int(message_id)) if str(message_id).isdigit() else None
    if msg is None or msg.sender_id != current_user.id or not msg.is_scheduled:
        return None
    return msg


@bp.route("/compose/draft/<int:message_id>")
def open_draft(message_id: int):
    """Go on writing one of the user's drafts."""
    draft = drafts.get(current_user.id, message_id) or abort(404)
    response = _show_draft(draft)
    if is_htmx() and request.args.get("folder") == "drafts" and draft.thread_id is not None:
        # Opened from a Drafts row (a redirect): the address bar keeps the row's own URL.
        response.headers["HX-Push-Url"] = url_for(
            "mailbox.conversation", slug="drafts", thread_id=draft.thread_id
        )
    return response


@bp.route("/compose/draft", methods=["POST"])
def save_draft():
    """Keep what the composer holds as the user's draft (htmx, as they type); says when it was saved."""
    form = _form()
    if not form.validate_on_submit() and "csrf_token" in form.errors:
        abort(400)
    draft_id = request.form.get("draft_id", "")
    draft = None
    if draft_id:
        draft = drafts.get(current_user.id, int(draft_id)) if draft_id.isdigit() else None
        if draft is None:  # sent or deleted meanwhile: never bring it back
            return render_template("compose/_draft_state.html", draft=None, gone=True)
    fields = drafts.DraftFields(
        to=_typed(form.to.data),
        cc=_typed(form.cc.data),
        bcc=_typed(form.bcc.data),
        subject=compose.clean_line(form.subject.data or ""),
        body=form.body.data or "",
    )
    draft = drafts.save(
        current_user,
        fields,
        draft=draft,
        reply_to=_message_field(form.reply_to_id.data),
        from_address=_chosen_from(form),
        forward_of=_message_field(form.forward_of_id.data),
        # Left already: the edit is kept as a draft of its own (a reply like it, if it was one).
        revises=_own_scheduled(form.revises_id.data) if form.revises_id.data else None,
    )
    db.session.commit()
    # A new draft: the folder list's Drafts count goes up at once (out of band).
    nav = nav_context(folder_or_404(request.args.get("folder", "inbox"))) if not draft_id else {}
    return render_template("compose/_draft_state.html", draft=draft, gone=False, nav_oob=bool(nav), **nav)


def _typed(value: str | None) -> list[str]:
    """An address field as typed, in entries (a draft keeps even what is not an address yet)."""
    return [a.strip() for a in (value or "").split(",") if a.strip()][:100]


@bp.route("/compose/draft/<int:message_id>/delete", methods=["POST"])
def delete_draft(message_id: int):
    """Delete one of the user's drafts; back to its conversation, or to Drafts."""
    drafts.get(current_user.id, message_id) or abort(404)
    thread_id = drafts.discard(current_user.id, message_id)
    db.session.commit()
    slug = request.args.get("folder", "drafts")
    if thread_id is not None and slug != "drafts" and folders.thread_for(current_user, thread_id) is not None:
        return render_conversation(
            folders.FOLDERS_BY_SLUG.get(slug, folders.FOLDERS_BY_SLUG["inbox"]),
            thread_id,
            notice=_("Draft deleted."),
        )
    target = url_for("mailbox.folder", slug="drafts")
    if is_htmx():
        return "", 204, {"HX-Location": target}
    return redirect(target)


@bp.route("/compose/forward/<int:message_id>")
def forward(message_id: int):
    """Forward a message the user can see, with its attachments."""
    msg = _visible_or_404(message_id)
    draft = drafts.forwarding(current_user.id, msg.id)
    if draft is not None:  # forwarding it again goes on with the forward begun
        return _show_draft(draft)
    body = current_user.signature_block + prefill.forwarded(msg)
    form = _form(
        subject=prefill.with_prefix("Fwd:", msg.subject), body=body, forward_of_id=str(msg.id), preset="now"
    )
    return _show(form, forwarding=msg)


@bp.route("/compose/edit/<int:message_id>", methods=["GET", "POST"])
@allow_bytes("COMPOSE_MAX_REQUEST_BYTES")  # attachments
def edit(message_id: int):
    """Edit a scheduled message (content and time) until it leaves."""
    msg = db.session.get(Message, message_id)
    if msg is None or msg.sender_id != current_user.id or not msg.is_scheduled:
        abort(404)
    if msg.scheduled_at is None:  # never: a scheduled message has its time
        abort(404)
    if request.method == "GET":
        draft = drafts.revising(current_user.id, msg.id)
        if draft is not None:  # the edit begun earlier, kept while the user looked elsewhere
            return _show_draft(draft)
        form = _form(
            revises_id=str(msg.id),
            to=", ".join(msg.to_addresses),
            cc=", ".join(msg.cc_addresses),
            bcc=", ".join(msg.bcc_addresses),
            subject=msg.subject,
            body=msg.body_text,
            preset="custom",
            send_at=prefill.to_local_naive(msg.scheduled_at, current_user.timezone),
        )
        return _show(form, editing=msg)
    form = _form()
    data, errors = _read(form)
    if data is not None and data.send_at is None:
        errors.setdefault("preset", []).append(
            _("A scheduled message needs a time; use Send now to send it at once.")
        )
    if data is not None and not errors:
        try:
            changed = compose.update_scheduled(msg.id, current_user, data, mail_domain().domain)
        except ComposeError as exc:
            errors = exc.errors
        else:
            if not changed:
                errors = {"to": [_("Too late: this message is already being sent.")]}
    draft = _draft_of_form()
    if data is None or errors:  # data is None only with errors
        context = _privacy_context(form, errors)
        _attach_errors(form, errors)
        db.session.rollback()
        if draft is not None:
            context["draft"] = draft
        return _show(form, status=422, editing=msg, **context)
    if draft is not None and draft.revises_id == msg.id:  # saved into the message: the kept edit goes
        drafts.discard(current_user.id, draft.id)
    db.session.commit()
    wake_sender(at=data.send_at)
    return _after_send(msg)


@bp.route("/compose", methods=["POST"])
@allow_bytes("COMPOSE_MAX_REQUEST_BYTES")  # attachments
def send():
    """Send now or schedule; the form comes back with its errors in place (422) if refused."""
    form = _form()
    data, errors = _read(form)
    draft = _draft_of_form()
    collision = _written_since(form, data)
    if data is not None and not errors and collision is None:  # None: the form has errors
        undo = current_app.config["UNDO_SEND_SECONDS"]
        if data.send_at is None and undo > 0:
            # Send waits a few seconds as scheduled: "Sending… Undo" turns it back into a draft.
            data.send_at = utcnow() + timedelta(seconds=undo)
        if draft is not None:
            data.attachments += drafts.attachments_of(draft, blob_store())
            data.resumed = compose.stored_scope(draft)  # a forward brought back keeps its scope
            drafts.discard(current_user.id, draft.id)
        elif data.thread_id is not None:
            # A first save still on its way when Send was clicked: the reply supersedes it.
            earlier = drafts.in_thread(current_user.id, data.thread_id, reply=True)
            if earlier is not None:
                drafts.discard(current_user.id, earlier.id)
        try:
            msg = compose.create(current_user, data, mail_domain(), blob_store())
        except ComposeError as exc:
            errors = exc.errors
    if data is None or errors or collision is not None:
        context = _context_of(form)
        if draft is not None:
            context["draft"] = draft
        if collision is not None:
            context["collision"] = collision
            context["collision_ago"] = _ago(collision.sort_at)
            sender = collision.sender if collision.is_outbound else None
            context["collision_by"] = sender.name if sender is not None else collision.display_from
            form.confirm_collision.data = ""
        context.update(_privacy_context(form, errors))
        _attach_errors(form, errors)
        db.session.rollback()
        return _show(form, status=422, **context)
    undoable = msg.is_scheduled and (form.preset.data or "now") == "now"
    audit.record(current_user.id, "send", "message", msg.id, scheduled=msg.is_scheduled)
    db.session.commit()
    # After the commit: the job must find the row.
    wake_sender(at=data.send_at)
    return _after_send(msg, undo=msg if undoable else None)


def _privacy_context(form: ComposeForm, errors: dict[str, list[str]]) -> dict:
    """What leaves the team, for the sender to confirm (or not): the warning's token."""
    if "confirm_privacy" not in errors:
        return {}
    form.confirm_privacy.data = ""
    return {
        "privacy_token": compose.privacy_token(errors["confirm_privacy"]),
        "reattach": any(f and f.filename for f in request.files.getlist(form.attachments.name)),
    }


def _draft_of_form() -> Message | None:
    """The user's draft the composer was writing (its id comes with the form), if still one."""
    value = request.form.get("draft_id", "")
    return drafts.get(current_user.id, int(value)) if value.isdigit() else None


def _written_since(form: ComposeForm, data: Compose | None) -> Message | None:
    """Mail someone else wrote in the conversation since the composer opened, not yet confirmed."""
    seen = form.seen_id.data or ""
    if data is None or data.thread_id is None or not seen.isdigit():
        return None
    newer = drafts.written_since(current_user, data.thread_id, int(seen))
    if newer is None or form.confirm_collision.data == str(newer.id):
        return None
    return newer


def _ago(at) -> str:
    """How long ago, in words: "2 min ago"."""
    minutes = max(0, int((utcnow() - at).total_seconds() // 60))
    if minutes < 1:
        return _("just now")
    if minutes < 120:
        return ngettext("%(num)s min ago", "%(num)s min ago", minutes)
    hours = minutes // 60
    if hours < 48:
        return ngettext("%(num)s hour ago", "%(num)s hours ago", hours)
    return ngettext("%(num)s day ago", "%(num)s days ago", hours // 24)


def _context_of(form: ComposeForm) -> dict:
    """What the form was about (reply or forward), so a refused form keeps its heading."""
    context = {}
    for key, value in (("replying_to", form.reply_to_id.data), ("forwarding", form.forward_of_id.data)):
        if value and str(value).isdigit():
            msg = folders.visible_message(current_user, int(value))
            if msg is not None:
                context[key] = msg
    return context


def _after_send(msg: Message, undo: Message | None = None):
    slug = "scheduled" if msg.is_scheduled and undo is None else "sent"
    if msg.thread_id is None:  # never: compose files every message in a conversation
        abort(404)
    if is_htmx():
        response = render_conversation(
            folders.FOLDERS_BY_SLUG[slug],
            msg.thread_id,
            with_list=True,
            undo=undo,
            undo_seconds=current_app.config["UNDO_SEND_SECONDS"],
        )
        response.headers["HX-Push-Url"] = url_for("mailbox.conversation", slug=slug, thread_id=msg.thread_id)
        return response
    return redirect(url_for("mailbox.conversation", slug=slug, thread_id=msg.thread_id))


def _attach_errors(form: ComposeForm, errors: dict[str, list[str]]) -> None:
    for name, messages in errors.items():
        field = getattr(form, name, None) or form.body
        field.errors = list(dict.fromkeys([*field.errors, *map(translate, messages)]))


def _read(form: ComposeForm) -> tuple[Compose | None, dict[str, list[str]]]:
    """The form as a Compose, or the errors to show by field."""
    errors: dict[str, list[str]] = {}
    if not form.validate_on_submit():
        errors = {name: list(errs) for name, errs in form.errors.items()}
        if "csrf_token" in errors:
            abort(400)
    allow_test = current_app.config["ALLOW_TEST_DOMAINS"]
    addresses = {}
    for name in ("to", "cc", "bcc"):
        good, bad = compose.parse_addresses(getattr(form, name).data or "", allow_test_domains=allow_test)
        addresses[name] = good
        if bad:
            errors.setdefault(name, []).append(_("Not a valid address: %(list)s", list=", ".join(bad)))
    send_at = _send_at(form, errors)
    attachments = _attachments(form, errors)
    replying = _message_field(form.reply_to_id.data)
    forwarding = _message_field(form.forward_of_id.data)
    if forwarding is not None:
        store = blob_store()
        attachments += [
            OutgoingFile(a.filename, a.content_type, store.get(a.sha256))
            for a in forwarding.attachments
            if not a.is_inline
        ]
    subject, body = _fill_placeholders(form, addresses["to"], replying, errors)
    if errors:
        return None, errors
    data = Compose(
        to=addresses["to"],
        cc=addresses["cc"],
        bcc=addresses["bcc"],
        subject=subject,
        body=body,
        attachments=attachments,
        send_at=send_at,
        in_reply_to=replying,
        thread_id=replying.thread_id if replying is not None else None,
        forward_of=forwarding,
        privacy_confirmed=form.confirm_privacy.data or "",
        from_mailbox_id=int(form.sender.data) if (form.sender.data or "").isdigit() else None,
    )
    return data, errors


def _message_field(value: str | None) -> Message | None:
    return _visible_or_404(value) if value else None


def _send_at(form: ComposeForm, errors: dict) -> datetime | None:
    try:
        return prefill.chosen_time(form.preset.data, form.send_at.data, current_user.timezone)
    except prefill.MissingTime:
        errors.setdefault("send_at", []).append(_("Choose a date and time."))
        return None


def _attachments(form: ComposeForm, errors: dict) -> list[OutgoingFile]:
    limit = current_app.config["COMPOSE_MAX_ATTACHMENT_BYTES"]
    files, total = [], 0
    for storage in request.files.getlist(form.attachments.name):
        if not storage or not storage.filename:
            continue
        data = storage.read(limit + 1)
        total += len(data)
        files.append(
            OutgoingFile(
                safe_filename(storage.filename), storage.mimetype or "application/octet-stream", data
            )
        )
    if total > limit:
        errors.setdefault("attachments", []).append(
            _("Attachments may not exceed %(mb)s MB in all.", mb=limit // (1024 * 1024))
        )
    return files


def _rendered(form: ComposeForm, to: list[str], replying: Message | None):
    """(subject, body) of the form with placeholders filled for the first recipient."""
    values = placeholder_values(to[0] if to else None, replying.thread_id if replying is not None else None)
    return placeholders.render(form.subject.data or "", values), placeholders.render(
        form.body.data or "", values
    )


def _fill_placeholders(form: ComposeForm, to: list[str], replying: Message | None, errors: dict):
    """Subject and body with placeholders filled for the (first) recipient; problems are errors."""
    subject, body = _rendered(form, to, replying)
    for name, rendered in (("subject", subject), ("body", body)):
        if rendered.unknown:
            errors.setdefault(name, []).append(
                _("Unknown placeholder: %(list)s", list=", ".join(rendered.unknown))
            )
        if rendered.unfilled:
            errors.setdefault(name, []).append(
                _(
                    "No value for %(list)s for this recipient. Fill it in, or give a fallback like "
                    "[candidate.first_name|there].",
                    list=", ".join(rendered.unfilled),
                )
            )
    return subject.text, body.text


def placeholder_values(address: str | None, thread_id: int | None = None) -> dict:
    """Placeholder values for a recipient address (and the conversation, for the job)."""
    candidate = people.owner_of(address) if address else None
    if candidate is not None and visible_candidate(current_user, candidate.id) is None:
        candidate = None  # someone the user may not see: no name, no job, from an address alone
    offer = None
    thread = db.session.get(Thread, thread_id) if thread_id else None
    if thread is not None and thread.offer_id and folders.thread_for(current_user, thread.id) is not None:
        offer = db.session.get(Offer, thread.offer_id)
    elif candidate is not None:
        # Talent pools are not jobs: [job.title] comes from the one job the candidate is on.
        offers = list(
            db.session.scalars(
                select(Placement.offer_id)
                .join(Offer, Offer.id == Placement.offer_id)
                .where(
                    Placement.candidate_id == candidate.id,
                    Offer.kind == "job",
                    has_offer_access(current_user, Offer.id),
                )
            )
        )
        offer = db.session.get(Offer, offers[0]) if len(offers) == 1 else None
    config = current_app.config
    return placeholders.context_for(
        candidate,
        offer,
        current_user,
        config["COMPANY_NAME"],
        current_user.inbound_address(mail_domain().domain),
    )


@bp.route("/compose/template")
def insert_template():
    """Fill subject and body from a template (htmx swaps the fields)."""
    form = _form()
    chosen = request.args.get("template_id", "")
    if not chosen:
        return "", 204  # "no template": leave the fields as they are
    template = usable_by_id(current_user, chosen) or abort(404)
    form.subject.data = template.subject
    form.body.data = template.body + current_user.signature_block
    return render_template("compose/_fields.html", form=form)


@bp.route("/compose/preview", methods=["POST"])
@allow_bytes("COMPOSE_MAX_REQUEST_BYTES")  # attachments
def preview():
    """The message as the first recipient will read it, placeholders filled."""
    form = _form()
    good, _bad = compose.parse_addresses(form.to.data or "", current_app.config["ALLOW_TEST_DOMAINS"])
    subject, body = _rendered(form, good, _message_field(form.reply_to_id.data))
    return render_template(
        "compose/_preview.html", recipient=good[0] if good else None, subject=subject, body=body
    )


@bp.route("/messages/<int:message_id>/after-away", methods=["POST"])
def after_away(message_id: int):
    """Move a scheduled message to the day its candidate is back, at the same time of day."""
    msg = db.session.get(Message, message_id)
    if msg is None or msg.sender_id != current_user.id or msg.thread_id is None:
        abort(404)
    candidate = msg.candidate
    notice = _("Too late: the message had already changed (sent, sending or cancelled).")
    if candidate is not None and candidate.is_away and msg.is_scheduled and msg.scheduled_at is not None:
        at = prefill.same_time_on(msg.scheduled_at, candidate.away_until, current_user.timezone)
        if at > msg.scheduled_at and compose.reschedule(msg.id, current_user.id, at):
            db.session.commit()
            wake_sender(at=at)
            notice = None
    slug = request.args.get("folder", "sent")
    return render_conversation(
        folders.FOLDERS_BY_SLUG.get(slug, folders.FOLDERS_BY_SLUG["sent"]), msg.thread_id, notice=notice
    )


@bp.route(
    "/messages/<int:message_id>/<any(cancel, 'send-now', retry, 'mark-sent', release):action>",
    methods=["POST"],
)
def message_action(message_id: int, action: str):
    """Cancel, send now, retry, confirm or release (held) one of the user's own messages (compare-and-set)."""
    msg = db.session.get(Message, message_id)
    if msg is None or msg.sender_id != current_user.id:
        abort(404)
    change = {
        "cancel": compose.cancel,
        "send-now": compose.send_now,
        "retry": compose.retry,
        "mark-sent": compose.mark_sent,
        "release": compose.release,
    }[action]
    changed = change(msg.id, current_user.id)
    db.session.commit()
    if changed and action == "cancel":  # not into nothing: the composer, with the message as a draft
        db.session.refresh(msg)
        return _show_draft(msg, notice=_("Not sent. It is kept in Drafts."), **_left(msg))
    if changed and action in ("send-now", "retry"):
        wake_sender()
    if changed and action == "release" and msg.scheduled_at is not None:
        wake_sender(at=max(msg.scheduled_at, utcnow() + timedelta(seconds=1)))
    notice = None if changed else _("Too late: the message had already changed (sent, sending or cancelled).")
    slug = request.args.get("folder", "sent")
    if msg.thread_id is None or folders.thread_for(current_user, msg.thread_id) is None:
        return render_pane(slug, "mailbox/_pane_empty.html")
    return render_conversation(
        folders.FOLDERS_BY_SLUG.get(slug, folders.FOLDERS_BY_SLUG["sent"]), msg.thread_id, notice=notice
    )


@bp.route("/messages/<int:message_id>/undo", methods=["POST"])
def undo_send(message_id: int):
    """Undo a send while it waits: the message becomes a draft again, back in the composer."""
    msg = db.session.get(Message, message_id)
    if msg is None or msg.sender_id != current_user.id or msg.thread_id is None:
        abort(404)
    if compose.cancel(msg.id, current_user.id):
        db.session.commit()
        db.session.refresh(msg)
        return _show_draft(msg, notice=_("Not sent. It is a draft again."), **_left(msg))
    db.session.commit()
    return render_conversation(
        folders.FOLDERS_BY_SLUG["sent"],
        msg.thread_id,
        notice=_("Too late to undo: the message had already left."),
    )


def _left(msg: Message) -> dict:
    """For htmx: the counts out of band, and the row of the list the message just left."""
    if not is_htmx():
        return {}
    return {
        "oob_after": True,
        "drop_row": msg.thread_id if request.args.get("folder") == "scheduled" else None,
    }


@bp.route("/messages/<int:message_id>/settled")
def settled(message_id: int):
    """After the undo window: the conversation and the Sent list as they now are."""
    msg = db.session.get(Message, message_id)
    if msg is None or msg.sender_id != current_user.id or msg.thread_id is None:
        abort(404)
    polls = request.args.get("poll", "0")
    again = msg.status in ("scheduled", "queued", "sending") and polls.isdigit() and int(polls) < 10
    return render_conversation(
        folders.FOLDERS_BY_SLUG["sent"],
        msg.thread_id,
        with_list=True,
        settle=msg if again else None,
        settle_poll=int(polls) + 1 if polls.isdigit() else 1,
    )
