"""Forms of the people blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class PersonForm(FlaskForm):
    """A new candidate: from a non-candidate's mail, or from an incoming CV."""

    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=120)])
    last_name = StringField(_l("Last name"), validators=[Optional(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])  # checked in the view
    offer_id = SelectField(_l("Place on"), validators=[Optional()], validate_choice=False)


class AttachForm(FlaskForm):
    """Add the address to an existing candidate."""

    candidate_id = HiddenField(validators=[DataRequired()])
    email = HiddenField(validators=[DataRequired()])
