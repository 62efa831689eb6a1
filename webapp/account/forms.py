"""Forms of the settings page: the profile and the password change."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, EqualTo, Length

from webapp.account.operations import MAX_SIGNATURE_CHARS, is_time_zone, time_zones
from webapp.admin.operations import MIN_PASSWORD_LENGTH

LANGUAGES = [("", _l("Browser language")), ("en", "English"), ("fr", "Français")]


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter your name.")), Length(max=120)])
    signature = TextAreaField(
        _l("Signature"),
        description=_l("Added below what you write in new mail, replies and forwards."),
        validators=[Length(max=MAX_SIGNATURE_CHARS)],
    )
    # Plain text (the textarea) or formatted (the editor, whose HTML comes in signature_html).
    signature_format = RadioField(
        _l("Signature style"),
        choices=[("text", _l("Plain text")), ("html", _l("Formatted"))],
        default="text",
        validate_choice=False,
    )
    signature_html = HiddenField(validators=[Length(max=4 * MAX_SIGNATURE_CHARS)])
    # validate_choice off: the zone is checked by validate_timezone, with a sentence people read.
    timezone = SelectField(_l("Time zone"), validate_choice=False)
    locale = SelectField(_l("Language"), choices=LANGUAGES, validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(z, z.replace("_", " ")) for z in time_zones()]

    def validate_timezone(self, field) -> None:
        if not is_time_zone(field.data or ""):
            raise ValidationError(_l("Choose a time zone from the list."))

    def validate_locale(self, field) -> None:
        if field.data not in {code for code, _label in LANGUAGES}:
            raise ValidationError(_l("Choose a language from the list."))


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Enter your current password.")), Length(max=200)]
    )
    new_password = PasswordField(
        _l("New password"),
        description=_l("At least %(num)d characters.", num=MIN_PASSWORD_LENGTH),
        validators=[
            DataRequired(_l("Enter a new password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                message=_l("Use at least %(num)d characters.", num=MIN_PASSWORD_LENGTH),
            ),
            Length(max=200),
        ],
    )
    confirm_password = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(_l("Type the new password a second time.")),
            EqualTo("new_password", message=_l("The two new passwords differ.")),
        ],
    )
