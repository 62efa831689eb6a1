"""The changes a user makes to their own account; the view commits."""

import functools
import zoneinfo

from webapp import audit
from webapp.mail.outbound import signature as signatures
from webapp.models import User

# Zones people live in, by region ("Europe/Paris"); the legacy aliases ("GB", "EST5EDT",
# "Etc/GMT+3", "posixrules") would only make the list longer and more confusing.
REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)
# The longest signature kept: a few lines, not a newsletter.
MAX_SIGNATURE_CHARS = 2000


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The zone names a user may choose, sorted, UTC first."""
    named = sorted(z for z in zoneinfo.available_timezones() if z.split("/", 1)[0] in REGIONS and "/" in z)
    return ("UTC", *named)


def is_time_zone(name: str) -> bool:
    """Whether `name` is a zone the settings offer (and zoneinfo can load)."""
    return name in time_zones()


def update_profile(
    user: User,
    name: str,
    signature: str,
    timezone: str,
    locale: str | None,
    signature_html: str | None = None,
) -> list[str]:
    """Save name, signature, time zone and language; returns the names of the fields that changed.

    `signature_html` (from the formatted editor) replaces `signature`: it is cleaned, and its
    plain twin becomes the text signature; with no formatting left it is a plain signature.
    """
    html = None
    if signature_html is not None:
        signature, html = signatures.from_editor(signature_html)
    new = {
        "name": name.strip(),
        "signature": signature.rstrip()[:MAX_SIGNATURE_CHARS],
        "signature_html": html,
        "timezone": timezone,
        "locale": locale or None,
    }
    changed = [key for key, value in new.items() if getattr(user, key) != value]
    for key in changed:
        setattr(user, key, new[key])
    return changed


def change_password(user: User, new_password: str, ip: str = "") -> None:
    """A new password: every session and remember cookie of the user ends (the view keeps this one)."""
    user.set_password(new_password)
    audit.record(user.id, "password_changed", "user", user.id, ip=ip)
