"""The name of the shared mailbox a message came through, beside it in the lists and the pane."""

from flask import g

from webapp.mail.read.folders import ListedMessage
from webapp.mail.sync.sent import SOURCE
from webapp.mail.sync.shared import all_shared_names
from webapp.mailbox_sync import bp
from webapp.models import Message


@bp.app_template_global("shared_mailbox_name")
def shared_mailbox_name(message: Message | ListedMessage) -> str | None:
    """The shared mailbox (jobs@, talent@) this synced message was delivered to, if any."""
    if message.source != SOURCE or not message.envelope_to:
        return None
    names = getattr(g, "_shared_mailbox_names", None)
    if names is None:  # once per request: a page of rows asks fifty times
        names = g._shared_mailbox_names = all_shared_names()
    return next((names[a] for a in message.envelope_to if a in names), None)
