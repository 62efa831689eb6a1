"""People views: thin; the changes live in webapp/mail/people.py."""

from flask import abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.mail import folders, outbound, people
from webapp.mailbox.routes import folder_or_404, render_conversation, thread_or_404
from webapp.models import Message, Placement, User
from webapp.people import bp, queries
from webapp.people.forms import AttachForm, PersonForm


def _offer_choices(form: PersonForm, default: int | None = None) -> None:
    form.offer_id.choices = [("", _("Not on an offer yet"))] + [
        (str(o.id), o.title) for o in queries.offer_choices(current_user)
    ]
    if default and not form.offer_id.data:
        form.offer_id.data = str(default)


def _chosen_offer(form: PersonForm) -> int | None:
    """The offer picked in the form, only if the user can access it (else 404)."""
    if not form.offer_id.data:
        return None
    allowed = {str(o.id): o.id for o in queries.offer_choices(current_user)}
    if form.offer_id.data not in allowed:
        abort(404)
    return allowed[form.offer_id.data]


def _address(form: PersonForm) -> str | None:
    good, _bad = outbound.parse_addresses(form.email.data or "", current_app.config["ALLOW_TEST_DOMAINS"])
    if not good:
        form.email.errors = [*form.email.errors, _("Not a valid address.")]
        return None
    return good[0]


def _conversation_or_404(slug: str, thread_id: int):
    folder = folder_or_404(slug)
    thread, messages = thread_or_404(thread_id)
    return folder, thread, messages


@bp.route("/mail/<slug>/<int:thread_id>/convert", methods=["POST"])
def convert(slug: str, thread_id: int):
    """Make the outside person of a non-candidate conversation a candidate (all their mail moves)."""
    folder, thread, messages = _conversation_or_404(slug, thread_id)
    if thread.candidate_id or not any(m.candidate_id is None and not m.is_cv for m in messages):
        abort(404)
    form = PersonForm()
    _offer_choices(form)
    address = _address(form) if form.validate_on_submit() else None
    outside, _name = queries.counterpart(messages)
    if address is not None and address != outside.lower():
        # Only the person of this conversation: the form is no look-up for other addresses.
        abort(404)
    if address is not None:
        try:
            people.convert_to_candidate(current_user, address, form.first_name.data, form.last_name.data or "",
                                        _chosen_offer(form))  # fmt: skip
        except people.PeopleError as exc:
            form.email.errors = [str(exc)]
        else:
            db.session.commit()
            return render_conversation(folder, thread_id)
    db.session.rollback()
    return render_conversation(folder, thread_id, status=422, person_form=form)


@bp.route("/mail/<slug>/<int:thread_id>/attach", methods=["POST"])
def attach(slug: str, thread_id: int):
    """Add the outside person's address to an existing candidate the user can see."""
    folder, thread, messages = _conversation_or_404(slug, thread_id)
    form = AttachForm()
    if not form.validate_on_submit() or not form.candidate_id.data.isdigit():
        abort(400)
    candidate = queries.visible_candidate(current_user, int(form.candidate_id.data))
    address, _name = queries.counterpart(messages)
    if candidate is None or not address or address != form.email.data.lower():
        abort(404)
    try:
        people.add_address(current_user, candidate, address)
    except people.PeopleError as exc:
        db.session.rollback()
        return render_conversation(folder, thread_id, status=422, attach_error=str(exc))
    db.session.commit()
    return render_conversation(folder, thread_id)


@bp.route("/candidates/search")
def search_candidates():
    """Candidates matching the text, to pick one to add an address to (htmx list)."""
    results = queries.search_candidates(current_user, request.args.get("q", ""))
    return render_template("people/_candidate_choices.html", results=results, email=request.args.get("email", ""),
                           slug=request.args.get("slug", "non-candidates"), thread_id=request.args.get("thread", type=int))  # fmt: skip


def _pending_cv(messages) -> Message | None:
    """The conversation's incoming CV still waiting to be processed, if any."""
    return next((m for m in messages if m.is_cv and m.cv_processed_at is None), None)


def _cv_message(thread_id: int) -> Message:
    _thread, messages = thread_or_404(thread_id)
    cv = _pending_cv(messages)
    if cv is None:
        abort(404)
    return cv


def _team_addresses() -> set[str]:
    domain = current_app.config["INBOUND_DOMAIN"]
    users = db.session.scalars(select(User))
    return {a for u in users for a in (u.email.lower(), u.inbound_address(domain))}


def _visible_guess(msg: Message) -> people.CvGuess:
    """The CV guess, naming an existing candidate only if the user may see them."""
    guess = people.guess_cv_person(msg, _team_addresses(), current_app.config["INBOUND_DOMAIN"])
    if guess.existing is not None and queries.visible_candidate(current_user, guess.existing.id) is None:
        guess.existing = None
    return guess


def cv_context(msg: Message) -> dict:
    """The guess and form of the "Create candidate" box for an incoming CV."""
    guess = _visible_guess(msg)
    form = PersonForm(
        data={"first_name": guess.first_name, "last_name": guess.last_name, "email": guess.email}
    )
    _offer_choices(form, default=msg.cv_offer_id)
    return {"cv_form": form, "cv_guess": guess, "cv_message": msg}


@bp.route("/mail/incoming-cv/<int:thread_id>/candidate", methods=["POST"])
def cv_to_candidate(thread_id: int):
    """Create the candidate of an incoming CV (or place the existing one), keeping the CV."""
    folder = folders.FOLDERS_BY_SLUG["incoming-cv"]
    msg = _cv_message(thread_id)
    form = PersonForm()
    _offer_choices(form)
    address = _address(form) if form.validate_on_submit() else None
    if address is not None:
        existing = people.owner_of(address)
        if existing is not None and queries.visible_candidate(current_user, existing.id) is None:
            # Someone you may not see: say nothing about who, and never merge into them.
            form.email.errors = [_("This address can't be used here. Ask an admin to place this person.")]
            existing, address = None, None
        elif existing is not None and request.form.get("merge") != str(existing.id):
            form.email.errors = [_("%(address)s is already %(name)s: place that candidate instead.",
                                   address=address, name=existing.full_name)]  # fmt: skip
        else:
            people.create_from_cv(current_user, msg, form.first_name.data, form.last_name.data or "", address,
                                  _chosen_offer(form), existing=existing)  # fmt: skip
            db.session.commit()
            return render_conversation(
                folder, thread_id, notice=_("Candidate saved; the CV is on their profile.")
            )
    db.session.rollback()
    guess = _visible_guess(msg)
    if address:
        guess.existing = people.owner_of(address)
    return render_conversation(folder, thread_id, status=422, cv_form=form, cv_guess=guess, cv_message=msg)


@bp.route("/mail/incoming-cv/<int:thread_id>/discard", methods=["POST"])
def discard_cv(thread_id: int):
    """Take an incoming CV out of the folder without making a candidate."""
    msg = _cv_message(thread_id)
    people.discard_cv(current_user, msg)
    db.session.commit()
    return render_conversation(folders.FOLDERS_BY_SLUG["incoming-cv"], thread_id, notice=_("CV discarded."))


@bp.route("/candidates/<int:candidate_id>")
def candidate_page(candidate_id: int):
    """Everything with one candidate: placements, CVs, and every message across threads and offers."""
    candidate = queries.visible_candidate(current_user, candidate_id) or abort(404)
    from webapp.models import CandidateFile

    files = list(db.session.scalars(select(CandidateFile).where(CandidateFile.candidate_id == candidate.id)))
    from webapp.mail.actions import is_following_candidate

    return render_template("people/candidate.html", candidate=candidate, files=files,
                           following=is_following_candidate(current_user.id, candidate.id),
                           messages=queries.timeline(current_user, [candidate.id]))  # fmt: skip


@bp.route("/offers/<int:offer_id>")
def offer_page(offer_id: int):
    """An offer's candidates and all their mail, in one timeline."""
    offer = queries.visible_offer(current_user, offer_id) or abort(404)
    placed = list(
        db.session.scalars(
            select(Placement).where(Placement.offer_id == offer.id).options(selectinload(Placement.candidate))
        )
    )
    ids = [p.candidate_id for p in placed]
    from webapp.mail.actions import is_following_offer

    return render_template("people/offer.html", offer=offer, placements=placed,
                           following=is_following_offer(current_user.id, offer.id),
                           messages=queries.timeline(current_user, ids))  # fmt: skip


def pane_extras(thread, messages, given: dict) -> dict:
    """The people boxes a conversation pane shows: convert a non-candidate, or process a CV."""
    extras = {}
    if (cv := _pending_cv(messages)) is not None:
        if "cv_form" not in given:
            extras.update(cv_context(cv))  # the pane's messages: not loaded a second time
        return extras
    if thread.candidate_id is None and any(m.candidate_id is None and not m.is_internal for m in messages):
        address, name = queries.counterpart(messages)
        if address and "person_form" not in given:
            first, _sp, last = (name or "").partition(" ")
            form = PersonForm(data={"first_name": first, "last_name": last, "email": address})
            _offer_choices(form)
            extras["person_form"] = form
        extras["person_address"] = address
    return extras
