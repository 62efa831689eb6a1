"""The mailbox connection form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.3; stubs lag)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.models import Security

# A host name or address: no scheme, no path, no spaces.
HOST = r"^[A-Za-z0-9.:\[\]-]+$"


class MailboxForm(FlaskForm):
    host = StringField(
        _l("IMAP server"),
        validators=[
            DataRequired(),
            Length(max=255),
            Regexp(HOST, message=_l("A host name such as imap.example.com, without https:// or a path.")),
        ],
    )
    port = IntegerField(_l("Port"), default=993, validators=[DataRequired(), NumberRange(min=1, max=65535)])
    security = SelectField(
        _l("Security"),
        default=Security.TLS.value,
        choices=[
            SelectChoice(Security.TLS.value, _l("TLS (usually port 993)")),
            SelectChoice(Security.STARTTLS.value, _l("STARTTLS (usually port 143)")),
            SelectChoice(Security.NONE.value, _l("None: only for a server on this machine")),
        ],
    )
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=255)])
    # Blank when a mailbox is already connected: the stored password is kept.
    password = PasswordField(_l("Password or app password"), validators=[Optional(), Length(max=500)])
    incoming_folder = StringField(
        _l("Incoming folder"), default="INBOX", validators=[DataRequired(), Length(max=255)]
    )
    sent_folder = StringField(_l("Sent folder"), validators=[Optional(), Length(max=255)])


class OAuthStartForm(FlaskForm):
    # The mailbox's address: XOAUTH2 logs in with it, and the provider's sign-in page is told it.
    username = StringField(
        _l("Email address"),
        validators=[
            DataRequired(),
            Length(max=255),
            Regexp(r"^[^@\s]+@[^@\s]+$", message=_l("An email address such as you@example.com.")),
        ],
    )


def _shared_with() -> SelectMultipleField:
    """Who shares a shared mailbox: a tick box per user (choices filled by the view)."""
    return SelectMultipleField(
        _l("Shared with"),
        coerce=int,
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


def _shared_name() -> StringField:
    """The name a shared mailbox shows beside its mail (jobs@, talent@)."""
    return StringField(_l("Name shown to the team"), validators=[DataRequired(), Length(max=120)])


class SharedMailboxForm(MailboxForm):
    """A shared mailbox (jobs@, talent@): the IMAP form, its name, and who shares it."""

    name = _shared_name()
    users = _shared_with()


class SharesForm(FlaskForm):
    """Who shares a shared mailbox."""

    users = _shared_with()


class SharedOAuthForm(OAuthStartForm):
    """A shared mailbox signed in at a provider: its address, its name, who shares it."""

    name = _shared_name()
    users = _shared_with()
