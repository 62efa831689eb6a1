"""One message's body on its own: re-rendered with remote images once the user asks for them."""

from flask import abort, render_template, request
from flask_login import current_user

from webapp.mail.quotes import fold_html, fold_text
from webapp.mail.read import folders
from webapp.mail.sanitize import linkify_text, sanitize
from webapp.mailbox import bp

# The body partial's helpers, registered app-wide so the full page and the fragment share them.
bp.add_app_template_filter(sanitize, "sanitize_email")
bp.add_app_template_filter(linkify_text, "linkify")
bp.add_app_template_filter(fold_text, "fold_text")
bp.add_app_template_filter(fold_html, "fold_html")


@bp.route("/mail/messages/<int:message_id>/body")
def message_body(message_id: int):
    """The body partial of a message the user may see; `?images=1` shows its remote images."""
    message = folders.visible_message(current_user, message_id)
    if message is None:
        abort(404)
    return render_template(
        "mailbox/_message_body.html", m=message, show_images=request.args.get("images") == "1"
    )
