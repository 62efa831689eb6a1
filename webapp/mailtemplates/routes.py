"""Template views: a list and an editor side by side; the rules live in operations.py."""

from flask import abort, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp import audit
from webapp.extensions import db
from webapp.htmx import is_htmx, render
from webapp.mailtemplates import bp, operations
from webapp.mailtemplates.forms import TemplateForm
from webapp.models import Template

PAGE = "mailtemplates/index.html"
# An htmx request aimed at the editor gets the editor, with the list out of band.
PARTIALS = {"template-editor": "mailtemplates/_editor_swap.html"}


def _show(form: TemplateForm | None = None, template: Template | None = None, status: int = 200, **extra):
    """The page (or the editor for htmx) with the list, `template` highlighted."""
    templates = operations.usable(current_user)
    return render(
        PAGE,
        PARTIALS,
        status=status,
        form=form,
        template=template,
        mine=[t for t in templates if t.owner_id == current_user.id],
        shared=[t for t in templates if t.is_shared],
        can_edit=lambda t: operations.can_edit(current_user, t),
        placeholder_help=operations.placeholder_help(),
        **extra,
    )


def _editable_or_404(template_id: int) -> Template:
    """The template if the current user may change it; else 404 (no hint that it exists)."""
    template = operations.editable(current_user, template_id)
    if template is None:
        abort(404)
    return template


def _check(form: TemplateForm) -> bool:
    """Validate the form, and refuse placeholders no recipient could fill, naming them."""
    valid = form.validate_on_submit()
    if "csrf_token" in form.errors:
        abort(400)
    for field in (form.subject, form.body):
        unknown = operations.unknown_placeholders(field.data or "")
        if unknown:
            field.errors = [*field.errors, _("Unknown placeholder: %(list)s", list=", ".join(unknown))]
            valid = False
    return valid


def _texts(form: TemplateForm) -> tuple[str, str, str]:
    """Name, subject and body of a validated form (each is required)."""
    return form.name.data or "", form.subject.data or "", form.body.data or ""


def _saved(template: Template, notice: str):
    """After a change: the editor for the template (htmx, URL pushed) or a redirect to it."""
    url = url_for("mailtemplates.edit", template_id=template.id)
    if not is_htmx():
        return redirect(url, code=303)
    form = TemplateForm(formdata=None, obj=template)
    response = _show(form, template, notice=notice)
    response.headers["HX-Push-Url"] = url
    return response


@bp.route("/")
def index():
    """The user's templates and the shared ones, with the placeholders as help."""
    return _show()


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Write a new template (optionally a copy of one the user can use: ?copy=<id>)."""
    if request.method == "GET":
        source = operations.usable_by_id(current_user, request.args.get("copy", ""))
        data = (
            {"name": _("Copy of %(name)s", name=source.name), "subject": source.subject, "body": source.body}
            if source
            else {}
        )
        return _show(TemplateForm(formdata=None, data=data))
    form = TemplateForm()
    if not _check(form):
        return _show(form, status=422)
    template = operations.save(current_user, None, *_texts(form), form.is_shared.data)
    db.session.flush()
    audit.record(current_user.id, "template_saved", "template", template.id, shared=template.is_shared)
    db.session.commit()
    return _saved(template, _("Template saved."))


@bp.route("/<int:template_id>/edit", methods=["GET", "POST"])
def edit(template_id: int):
    """Change one of the user's templates (admins: the shared ones too)."""
    template = _editable_or_404(template_id)
    if request.method == "GET":
        return _show(TemplateForm(formdata=None, obj=template), template)
    form = TemplateForm()
    if not _check(form):
        return _show(form, template, status=422)
    operations.save(current_user, template, *_texts(form), form.is_shared.data)
    audit.record(current_user.id, "template_saved", "template", template.id, shared=template.is_shared)
    db.session.commit()
    return _saved(template, _("Template saved."))


@bp.route("/<int:template_id>/delete", methods=["POST"])
def delete(template_id: int):
    """Delete one of the user's templates (admins: a shared one too)."""
    # CSRFProtect has already checked the token, as for every POST.
    operations.delete(_editable_or_404(template_id))
    audit.record(current_user.id, "template_deleted", "template", template_id)
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("mailtemplates.index"), code=303)
    response = _show(notice=_("Template deleted."))
    response.headers["HX-Push-Url"] = url_for("mailtemplates.index")
    return response
