"""The people boxes of the conversation pane: make a non-candidate a candidate, or process an incoming CV.

The pane (webapp/panes/conversation.py) shows them; the people views take their forms back.
"""

from flask_babel import gettext as _
from flask_login import current_user

from webapp.mail.outbound.compose import team_addresses
from webapp.models import Message
from webapp.people import operations, queries
from webapp.people.forms import PersonForm
from webapp.services import mail_domain


def fill_offer_choices(form: PersonForm, default: int | None = None) -> None:
    """The offers the user can place the person on, `default` chosen unless the form says otherwise."""
    form.offer_id.choices = [("", _("Not on an offer yet"))] + [
        (str(o.id), o.title) for o in queries.offer_choices(current_user)
    ]
    if default and not form.offer_id.data:
        form.offer_id.data = str(default)


def pending_cv(messages) -> Message | None:
    """The conversation's incoming CV still waiting to be processed, if any."""
    return next((m for m in messages if m.is_cv and m.cv_processed_at is None), None)


def _team_addresses() -> set[str]:
    return team_addresses(mail_domain().domain)


def visible_guess(msg: Message) -> operations.CvGuess:
    """The CV guess, naming an existing candidate only if the user may see them."""
    guess = operations.guess_cv_person(msg, _team_addresses(), mail_domain().domain)
    if guess.existing is not None and queries.visible_candidate(current_user, guess.existing.id) is None:
        guess.existing = None
    return guess


def cv_context(msg: Message) -> dict:
    """The guess and form of the "Create candidate" box for an incoming CV."""
    guess = visible_guess(msg)
    form = PersonForm(
        data={"first_name": guess.first_name, "last_name": guess.last_name, "email": guess.email}
    )
    fill_offer_choices(form, default=msg.cv_offer_id)
    return {"cv_form": form, "cv_guess": guess, "cv_message": msg}


def pane_extras(thread, messages, given: dict) -> dict:
    """The people boxes a conversation pane shows: convert a non-candidate, or process a CV."""
    extras = {}
    if (cv := pending_cv(messages)) is not None:
        if "cv_form" not in given:
            extras.update(cv_context(cv))  # the pane's messages: not loaded a second time
        return extras
    if thread.candidate_id is None and any(
        m.candidate_id is None and not m.is_internal and m.cv_offer_id is None for m in messages
    ):
        address, name = queries.counterpart(messages)
        if address.lower() in _team_addresses():
            return extras  # a team member's address (in unverified mail): never a candidate
        if address and "person_form" not in given:
            first, _sp, last = (name or "").partition(" ")
            form = PersonForm(data={"first_name": first, "last_name": last, "email": address})
            fill_offer_choices(form)
            extras["person_form"] = form
        extras["person_address"] = address
    return extras
