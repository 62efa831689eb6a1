"""Templates: who may use and change which, and the check a template passes before it is saved.

A personal template belongs to its owner alone (admins included: theirs is private too); a
shared one (no owner) is offered to everyone and changed by admins only.
"""

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.mail.outbound import placeholders
from webapp.models import Template, User

# Bracketed text that looks like a placeholder but is not written the strict way
# ([Candidate.First_Name], [ job.title ]): it would go out verbatim, so it is refused too.
LOOKALIKE = re.compile(r"\[\s*[A-Za-z_]+\s*\.\s*[A-Za-z_]+\s*(?:\|[^\[\]\n]*)?\]")
# What each placeholder stands for, shown as help next to the editor.
DESCRIPTIONS = {
    "candidate.first_name": _l("The candidate's first name"),
    "candidate.last_name": _l("The candidate's last name"),
    "candidate.full_name": _l("The candidate's full name"),
    "candidate.email": _l("The candidate's email address"),
    "job.title": _l("The job's title (when the conversation or the candidate has one job)"),
    "sender.name": _l("Your name"),
    "sender.first_name": _l("Your first name"),
    "sender.email": _l("Your email address"),
    "company.name": _l("The company's name"),
}


def placeholder_help() -> list[tuple[str, str]]:
    """(placeholder, what it stands for) for every known placeholder, as the help lists them."""
    return [(f"[{name}]", DESCRIPTIONS.get(name, "")) for name in placeholders.KNOWN]


def usable(user: User) -> list[Template]:
    """The user's own templates and the shared ones, by name."""
    return list(
        db.session.scalars(
            select(Template)
            .where(or_(Template.owner_id == user.id, Template.owner_id.is_(None)))
            .order_by(Template.name, Template.id)
        )
    )


def usable_by_id(user: User, template_id) -> Template | None:
    """One template the user may use (own or shared), else None."""
    if not str(template_id).isdigit():
        return None
    template = db.session.get(Template, int(template_id))
    if template is None or template.owner_id not in (None, user.id):
        return None
    return template


def editable(user: User, template_id: int) -> Template | None:
    """The template if the user may change it: their own, or a shared one for an admin."""
    template = db.session.get(Template, template_id)
    return template if template is not None and can_edit(user, template) else None


def can_edit(user: User, template: Template) -> bool:
    """True when the user may change or delete this template."""
    return template.owner_id == user.id or (template.is_shared and user.is_admin)


def unknown_placeholders(text: str) -> list[str]:
    """Placeholders written in `text` that no recipient could have filled, in order."""
    unknown = [p for p in placeholders.find(text) if p[1:-1].split("|", 1)[0] not in placeholders.KNOWN]
    lookalikes = [
        m.group(0) for m in LOOKALIKE.finditer(text) if not placeholders.PLACEHOLDER.fullmatch(m.group(0))
    ]
    return list(dict.fromkeys(unknown + lookalikes))


def save(user: User, template: Template | None, name: str, subject: str, body: str, shared: bool) -> Template:
    """Create (template None) or update a template; only admins may make it shared. Flushes."""
    if template is None:
        template = Template()
        db.session.add(template)
    template.name = name.strip()
    template.subject = subject.strip()
    template.body = body
    template.owner_id = None if (shared and user.is_admin) else user.id
    db.session.flush()
    return template


def delete(template: Template) -> None:
    """Remove a template; bulk emails sent with it keep their text (template_id set NULL)."""
    db.session.delete(template)
    db.session.flush()
