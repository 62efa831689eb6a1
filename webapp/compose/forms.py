"""The compose form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional


class ComposeForm(FlaskForm):
    to = StringField(_l("To"), validators=[DataRequired(_l("Add at least one recipient.")), Length(max=4000)])
    cc = StringField(_l("Cc"), validators=[Optional(), Length(max=4000)])
    bcc = StringField(_l("Bcc"), validators=[Optional(), Length(max=4000)])
    subject = StringField(_l("Subject"), validators=[DataRequired(_l("Add a subject.")), Length(max=998)])
    body = TextAreaField(_l("Message"), validators=[Length(max=200_000)])
    attachments = MultipleFileField(_l("Attachments"))
    # Their own address, or a shared mailbox they share (choices set by the view).
    sender = SelectField(_l("From"), coerce=str, validate_choice=False)
    template_id = SelectField(_l("Template"), coerce=str, validate_choice=False)
    preset = SelectField(_l("When"), validate_choice=False)
    send_at = DateTimeLocalField(_l("Send at"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    reply_to_id = HiddenField()
    forward_of_id = HiddenField()
    # Editing a scheduled message: its id, so that the edit is kept as a draft while typed.
    revises_id = HiddenField()
    thread_id = HiddenField()
    # The newest message of the conversation the composer was opened on: mail written since
    # (a colleague's reply, the candidate's) is shown before sending, to confirm.
    seen_id = HiddenField()
    confirm_collision = StringField(_l("Send it anyway"), validators=[Optional(), Length(max=20)])
    # Shown after the privacy warning: the sender confirms what leaves the team.
    confirm_privacy = StringField(
        _l("Yes, send it outside the team"), validators=[Optional(), Length(max=64)]
    )
