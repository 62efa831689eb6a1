"""People views: thin; the changes live in operations.py, the pane's boxes in boxes.py.

This blueprint owns /candidates/* and /offers/*, following included.
"""

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.mail.outbound import compose
from webapp.mail.outbound.compose import team_addresses
from webapp.mail.read import folders
from webapp.models import CandidateFile, Message, Placement
from webapp.panes.conversation import (
    folder_or_404,
    nav_context,
    render_conversation,
    thread_or_404,
    wants_pane,
)
from webapp.people import operations, queries
from webapp.people.boxes import fill_offer_choices, pending_cv, visible_guess
from webapp.people.forms import AttachForm, PersonForm
from webapp.privacy.panel import privacy_panel
from webapp.services import mail_domain

bp = Blueprint("people", __name__)


def _chosen_offer(form: PersonForm) -> int | None:
    """The offer picked in the form, only if the user can access it (else 404)."""
    if not form.offer_id.data:
        return None
    allowed = {str(o.id): o.id for o in queries.offer_choices(current_user)}
    if form.offer_id.data not in allowed:
        abort(404)
    return allowed[form.offer_id.data]


def _address(form: PersonForm) -> str | None:
    good, _bad = compose.parse_addresses(form.email.data or "", current_app.config["ALLOW_TEST_DOMAINS"])
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
    if thread.candidate_id or not any(
        m.candidate_id is None and not m.is_cv and m.cv_offer_id is None for m in messages
    ):
        abort(404)
    form = PersonForm()
    fill_offer_choices(form)
    address = _address(form) if form.validate_on_submit() else None
    outside, _name = queries.counterpart(messages)
    if outside.lower() in team_addresses(mail_domain().domain):
        abort(404)  # a team member's address (in unverified mail) never becomes a candidate
    if address is not None and address != outside.lower():
        # Only the person of this conversation: the form is no look-up for other addresses.
        abort(404)
    if address is not None:
        try:
            operations.convert_to_candidate(
                current_user,
                address,
                form.first_name.data or "",
                form.last_name.data or "",
                _chosen_offer(form),
            )
        except operations.PeopleError as exc:
            form.email.errors = [str(exc)]
        else:
            db.session.commit()
            # Every conversation of the address moved: the whole list shows them under the new name.
            return render_conversation(folder, thread_id, with_list=True)
    db.session.rollback()
    return render_conversation(folder, thread_id, status=422, person_form=form)


@bp.route("/mail/<slug>/<int:thread_id>/attach", methods=["POST"])
def attach(slug: str, thread_id: int):
    """Add the outside person's address to an existing candidate the user can see."""
    folder, thread, messages = _conversation_or_404(slug, thread_id)
    form = AttachForm()
    if not form.validate_on_submit():
        abort(400)
    candidate_id, email = form.candidate_id.data or "", form.email.data or ""  # both required
    if not candidate_id.isdigit():
        abort(400)
    candidate = queries.visible_candidate(current_user, int(candidate_id))
    address, _name = queries.counterpart(messages)
    if candidate is None or not address or address != email.lower():
        abort(404)
    if address.lower() in team_addresses(mail_domain().domain):
        abort(404)  # a team member's address never becomes a candidate's
    try:
        operations.add_address(current_user, candidate, address)
    except operations.PeopleError as exc:
        db.session.rollback()
        return render_conversation(folder, thread_id, status=422, attach_error=str(exc))
    db.session.commit()
    return render_conversation(folder, thread_id, with_list=True)  # as after a conversion


@bp.route("/candidates/search")
def search_candidates():
    """Candidates matching the text, to pick one to add an address to (htmx list)."""
    results = queries.search_candidates(current_user, request.args.get("q", ""))
    return render_template(
        "people/_candidate_choices.html",
        results=results,
        email=request.args.get("email", ""),
        slug=request.args.get("slug", "non-candidates"),
        thread_id=request.args.get("thread", type=int),
    )


def _cv_message(thread_id: int) -> Message:
    _thread, messages = thread_or_404(thread_id)
    cv = pending_cv(messages)
    if cv is None:
        abort(404)
    return cv


@bp.route("/mail/incoming-cv/<int:thread_id>/candidate", methods=["POST"])
def cv_to_candidate(thread_id: int):
    """Create the candidate of an incoming CV (or place the existing one), keeping the CV."""
    folder = folders.FOLDERS_BY_SLUG["incoming-cv"]
    msg = _cv_message(thread_id)
    form = PersonForm()
    fill_offer_choices(form)
    address = _address(form) if form.validate_on_submit() else None
    if address is not None:
        existing = operations.owner_of(address)
        if existing is not None and queries.visible_candidate(current_user, existing.id) is None:
            # Someone you may not see: say nothing about who, and never merge into them.
            form.email.errors = [_("This address can't be used here. Ask an admin to place this person.")]
            existing, address = None, None
        elif existing is not None and request.form.get("merge") != str(existing.id):
            form.email.errors = [
                _(
                    "%(address)s is already %(name)s: place that candidate instead.",
                    address=address,
                    name=existing.full_name,
                )
            ]
        else:
            operations.create_from_cv(
                current_user,
                msg,
                form.first_name.data or "",
                form.last_name.data or "",
                address,
                _chosen_offer(form),
                existing=existing,
            )
            db.session.commit()
            return render_conversation(
                folder, thread_id, notice=_("Candidate saved; the CV is on their profile.")
            )
    db.session.rollback()
    guess = visible_guess(msg)
    if address:
        guess.existing = operations.owner_of(address)
    return render_conversation(folder, thread_id, status=422, cv_form=form, cv_guess=guess, cv_message=msg)


@bp.route("/mail/incoming-cv/<int:thread_id>/discard", methods=["POST"])
def discard_cv(thread_id: int):
    """Take an incoming CV out of the folder without making a candidate."""
    msg = _cv_message(thread_id)
    operations.discard_cv(current_user, msg)
    db.session.commit()
    return render_conversation(folders.FOLDERS_BY_SLUG["incoming-cv"], thread_id, notice=_("CV discarded."))


@bp.route("/candidates/<int:candidate_id>")
def candidate_page(candidate_id: int):
    """Everything with one candidate: placements, CVs, and every message across threads and offers."""
    candidate = queries.visible_candidate(current_user, candidate_id) or abort(404)
    files = list(db.session.scalars(select(CandidateFile).where(CandidateFile.candidate_id == candidate.id)))
    return render_template(
        "people/candidate.html",
        candidate=candidate,
        files=files,
        following=operations.is_following_candidate(current_user.id, candidate.id),
        messages=queries.timeline(current_user, [candidate.id]),
        privacy=privacy_panel(current_user, candidate),
    )


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
    return render_template(
        "people/offer.html",
        offer=offer,
        placements=placed,
        following=operations.is_following_offer(current_user.id, offer.id),
        messages=queries.timeline(current_user, ids),
    )


# The URL's first part names the kind: (what the templates call it, who may see it, the change).
FOLLOWABLE = {
    "candidates": ("candidate", queries.visible_candidate, operations.follow_candidate),
    "offers": ("offer", queries.visible_offer, operations.follow_offer),
}


@bp.route("/<any(candidates, offers):kind>/<int:target_id>/<any(follow, unfollow):action>", methods=["POST"])
def follow(kind: str, target_id: int, action: str):
    """Follow or unfollow a candidate the user can see, or a job or talent pool they can access."""
    name, visible, change = FOLLOWABLE[kind]
    target = visible(current_user, target_id) or abort(404)
    change(current_user.id, target.id, on=action == "follow")
    db.session.commit()
    return _follow_response(name, target, action == "follow")


def _follow_response(kind: str, target, following: bool):
    """The new state where the click came from: the page's button, the pane, or the counts."""
    if request.args.get("button"):
        return render_template("people/_follow_button.html", kind=kind, target=target, following=following)
    folder = folders.FOLDERS_BY_SLUG.get(request.args.get("folder", ""), folders.FOLDERS[0])
    thread_id = request.args.get("thread", type=int)
    if thread_id and wants_pane():
        return render_conversation(folder, thread_id)
    return render_template(
        "mailbox/_action_swap.html", row=None, thread_id=None, thread=None, **nav_context(folder)
    )
