"""Bulk email views: thin; recipients, checks and creation live in webapp/mail/outbound/bulk.py."""

from datetime import datetime

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp import audit
from webapp.bulk import bp
from webapp.bulk.forms import BulkForm
from webapp.compose import prefill
from webapp.extensions import db
from webapp.htmx import is_htmx, render
from webapp.jobs.enqueue import wake_sender
from webapp.mail.outbound import bulk
from webapp.mailtemplates import operations as templates
from webapp.models.types import utcnow
from webapp.services import blob_store, mail_domain
from webapp.templating import translate

NEW_PAGE = "bulk/new.html"
# A refused send swaps the whole form back with its errors (422).
NEW_PARTIALS = {"bulk-compose": "bulk/_compose.html"}


def _ids(name: str) -> list[int]:
    """The integer ids sent as repeated `name` parameters (query or form); others are ignored."""
    return [int(v) for v in request.values.getlist(name) if v.isdigit()][: bulk.MAX_RECIPIENTS + 1]


def _form(formdata=None) -> BulkForm:
    """The bulk form (from `formdata`, else the request), its template choices the user's."""
    form = BulkForm(formdata=formdata) if formdata is not None else BulkForm()
    form.template_id.choices = [("", _("No template: write it below"))] + [
        (str(t.id), t.name) for t in templates.usable(current_user)
    ]
    # Compose's choices and wording (prefill.preset_choices: on a Sunday, "tomorrow" is Monday
    # and is offered once), so both pickers say the same.
    form.preset.choices = [
        ("now", _("Now")),
        *prefill.preset_choices(current_user.timezone),
        ("custom", _("At a chosen time")),
    ]
    if not form.preset.data:
        form.preset.data = "now"
    return form


def _send_at(form: BulkForm) -> datetime | None:
    """When the bulk leaves (aware UTC; None: now); a missing or past chosen time is a field error."""
    try:
        at = prefill.chosen_time(form.preset.data, form.send_at.data, current_user.timezone)
    except prefill.MissingTime:
        form.send_at.errors = [*form.send_at.errors, _("Choose a date and time.")]
        return None
    # Presets are always ahead of now, so only a typed time can be in the past.
    if at is not None and at <= utcnow():
        form.send_at.errors = [*form.send_at.errors, _("Choose a time in the future.")]
    return at


def _sender() -> tuple[str, str]:
    """(company name, the user's address) for placeholders."""
    return current_app.config["COMPANY_NAME"], current_user.inbound_address(mail_domain().domain)


def _context(form: BulkForm, refusal: bulk.BulkError | None = None, **extra) -> dict:
    """Everything the form and its summary show for the current selection (404: an offer out of reach)."""
    offers = bulk.offers_for(current_user, _ids("offer"))
    if offers is None:
        abort(404)
    candidate_ids = _ids("candidate")
    recipients = bulk.resolve(current_user, offers, candidate_ids)
    company, address = _sender()
    subject, body = form.subject.data or "", form.body.data or ""
    first = recipients.ready[0] if recipients.ready else None
    preview = bulk.render_for(first, subject, body, current_user, company, address) if first else None
    all_offers = bulk.offer_choices(current_user)
    return {
        "form": form,
        "offers": all_offers,
        "placed": bulk.placement_counts([o.id for o in all_offers]),
        "chosen_offer_ids": {o.id for o in offers},
        "candidate_ids": candidate_ids,
        "recipients": recipients,
        "first": first,
        "preview": preview,
        "problems": refusal.problems
        if refusal
        else bulk.problems(recipients, subject, body, current_user, company, address),
        "reasons": [translate(r) for r in refusal.reasons] if refusal else [],
        "refused": refusal is not None,
        "recent": bulk.recent(current_user),
        "placeholder_help": templates.placeholder_help(),
        "timezone": current_user.timezone,
        **extra,
    }


def _show(form: BulkForm, status: int = 200, refusal: bulk.BulkError | None = None, **extra):
    """The page, or the form with its summary for htmx (after a refused send, or to confirm)."""
    return render(NEW_PAGE, NEW_PARTIALS, status=status, **_context(form, refusal, **extra))


@bp.route("/new")
def new():
    """Choose offers or candidates and a template; the summary and preview follow the choice."""
    form = _form(request.args)
    chosen = templates.usable_by_id(current_user, form.template_id.data or "")
    if chosen is not None and not (form.subject.data or form.body.data):
        form.subject.data, form.body.data = (
            chosen.subject,
            chosen.body + current_user.signature_block,
        )
    return _show(form)


@bp.route("/new/template")
def template_fields():
    """Subject and body from the chosen template (htmx swaps the fields, then the summary follows)."""
    choice = request.args.get("template_id", "")
    if not choice:
        return make_response("", 204)  # "no template": keep what is written
    template = templates.usable_by_id(current_user, choice)
    if template is None:
        abort(404)
    form = BulkForm(formdata=None)
    form.subject.data, form.body.data = (
        template.subject,
        template.body + current_user.signature_block,
    )
    response = make_response(render_template("bulk/_fields.html", form=form))
    # After the swap: the summary must read the new fields, not the old ones.
    response.headers["HX-Trigger-After-Swap"] = "bulk-fields-changed"
    return response


@bp.route("/new/summary", methods=["POST"])
def summary():
    """Recipients, problems and the first recipient's preview for what the form says now."""
    form = _form()
    return render_template("bulk/_summary_swap.html", **_context(form))


@bp.route("", methods=["POST"])
def create():
    """Check, then ask to confirm (N and the first message); send or schedule once confirmed.

    Refused: the whole bulk, with the reasons in place (422). "Back" shows the form as it was.
    """
    form = _form()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _show(form, status=422)
    if request.form.get("step") == "back":
        return _show(form)
    send_at = _send_at(form)
    if form.send_at.errors:
        return _show(form, status=422)
    offers = bulk.offers_for(current_user, _ids("offer"))
    if offers is None:
        abort(404)
    recipients = bulk.resolve(current_user, offers, _ids("candidate"))
    chosen = templates.usable_by_id(current_user, form.template_id.data or "")
    company, _address = _sender()
    subject, body = form.subject.data or "", form.body.data or ""  # both required
    key = bulk.confirmation_key(recipients, subject, body, send_at)
    confirmed = request.form.get("confirm", "")
    try:
        if confirmed != key:
            # Nothing is written before the user has seen who gets what: check, then ask.
            bulk.check(current_user, recipients, subject, body, mail_domain(), company)
            return _show(form, confirm_key=key, confirm_changed=bool(confirmed), send_at=send_at)
        sent, message_ids = bulk.create(
            current_user,
            recipients,
            subject,
            body,
            chosen.id if chosen else None,
            mail_domain(),
            blob_store(),
            company,
            send_at=send_at,
        )
    except bulk.BulkError as refusal:
        db.session.rollback()
        return _show(form, status=422, refusal=refusal)
    audit.record(
        current_user.id,
        "bulk_send",
        "bulk",
        sent.id,
        messages=len(message_ids),
        scheduled=send_at is not None,
    )
    db.session.commit()
    # After the commit, so that the worker finds the rows; one wake-up sends them all (or one
    # timer for their time).
    if message_ids:
        wake_sender(at=send_at)
    url = url_for("bulk.show", bulk_id=sent.id)
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


@bp.route("/<int:bulk_id>")
def show(bulk_id: int):
    """Progress of a bulk email; the partial polls itself until nothing is left to send."""
    found = bulk.visible_bulk(current_user, bulk_id)
    if found is None:
        abort(404)
    return render(
        "bulk/show.html",
        {"bulk-progress": "bulk/_progress.html"},
        progress=bulk.progress(found),
        can_cancel=found.user_id == current_user.id,
    )


@bp.route("/<int:bulk_id>/cancel", methods=["POST"])
def cancel(bulk_id: int):
    """Cancel the bulk's messages still waiting for their time; those already sent stay sent."""
    found = bulk.visible_bulk(current_user, bulk_id)
    if found is None or found.user_id != current_user.id:
        abort(404)  # an admin sees another's bulk but does not withdraw their mail
    cancelled = bulk.cancel_scheduled(found, current_user)
    audit.record(current_user.id, "bulk_cancel", "bulk", found.id, messages=cancelled)
    db.session.commit()
    if is_htmx():
        return show(bulk_id)
    return redirect(url_for("bulk.show", bulk_id=found.id), code=303)
