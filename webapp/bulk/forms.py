"""The bulk email form (recipients travel as `offer` and `candidate` ids beside it)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class BulkForm(FlaskForm):
    template_id = SelectField(_l("Template"), coerce=str, validate_choice=False)
    subject = StringField(_l("Subject"), validators=[DataRequired(_l("Add a subject.")), Length(max=998)])
    body = TextAreaField(
        _l("Message"), validators=[DataRequired(_l("Write the message.")), Length(max=200_000)]
    )
    # The same choices as compose's "When": now, its presets, or a chosen time.
    preset = SelectField(_l("When"), validate_choice=False)
    send_at = DateTimeLocalField(_l("Send at"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
