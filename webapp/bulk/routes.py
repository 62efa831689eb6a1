"""Bulk email views: thin; recipients, checks and creation live in webapp/mail/outbound/bulk.py."""

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp import audit
from webapp.bulk import bp
from webapp.bulk.forms import BulkForm
from webapp.extensions import db
from webapp.htmx import is_htmx, render
from webapp.jobs.enqueue import wake_sender
from webapp.mail.outbound import bulk
from webapp.mailtemplates import operations as templates
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
    return form


def _sender() -> tuple[str, str]:
    """(company name, the user's address) for placeholders."""
    return current_app.config["COMPANY_NAME"], current_user.inbound_address(mail_domain().domain)


def _context(form: BulkForm, refusal: bulk.BulkError | None = None) -> dict:
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
    }


def _show(form: BulkForm, status: int = 200, refusal: bulk.BulkError | None = None):
    """The page, or the form with its summary for htmx (after a refused send)."""
    return render(NEW_PAGE, NEW_PARTIALS, status=status, **_context(form, refusal))


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
    """Send one message per recipient, or refuse the whole bulk with the reasons in place (422)."""
    form = _form()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _show(form, status=422)
    offers = bulk.offers_for(current_user, _ids("offer"))
    if offers is None:
        abort(404)
    recipients = bulk.resolve(current_user, offers, _ids("candidate"))
    chosen = templates.usable_by_id(current_user, form.template_id.data or "")
    company, _address = _sender()
    try:
        sent, message_ids = bulk.create(
            current_user,
            recipients,
            form.subject.data or "",  # both required
            form.body.data or "",
            chosen.id if chosen else None,
            mail_domain(),
            blob_store(),
            company,
        )
    except bulk.BulkError as refusal:
        db.session.rollback()
        return _show(form, status=422, refusal=refusal)
    audit.record(current_user.id, "bulk_send", "bulk", sent.id, messages=len(message_ids))
    db.session.commit()
    # After the commit, so that the worker finds the rows; one wake-up sends them all.
    if message_ids:
        wake_sender()
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
    return render("bulk/show.html", {"bulk-progress": "bulk/_progress.html"}, progress=bulk.progress(found))
