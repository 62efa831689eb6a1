"""The template editor form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class TemplateForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(_l("Give the template a name.")), Length(max=120)]
    )
    subject = StringField(_l("Subject"), validators=[DataRequired(_l("Add a subject.")), Length(max=998)])
    body = TextAreaField(
        _l("Message"), validators=[DataRequired(_l("Write the message.")), Length(max=200_000)]
    )
    is_shared = BooleanField(_l("Shared with the team"))
