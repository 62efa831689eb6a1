"""What the compose form starts with: reply and forward subjects, quotes, signature, presets."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _

from webapp.models import Direction, Message
from webapp.models.types import utcnow


def with_prefix(prefix: str, subject: str) -> str:
    """'Re: x' once, never 'Re: Re: x'."""
    subject = subject or ""
    if subject.lower().startswith(prefix.lower()):
        return subject
    return f"{prefix} {subject}".strip()


def quoted(msg: Message) -> str:
    """The replied-to message, quoted with '> '."""
    when = format_datetime(msg.sort_at, "medium")
    head = _("On %(when)s, %(who)s wrote:", when=when, who=msg.display_from)
    lines = (msg.body_text or msg.snippet or "").splitlines() or [""]
    return f"\n\n{head}\n" + "\n".join(f"> {line}" for line in lines)


def forwarded(msg: Message) -> str:
    """The forwarded message's headers and text, as mail clients show them."""
    return (
        "\n\n---------- " + _("Forwarded message") + " ----------\n"
        f"{_('From:')} {msg.display_from} <{msg.from_address}>\n"
        f"{_('Date:')} {format_datetime(msg.sort_at, 'medium')}\n"
        f"{_('Subject:')} {msg.subject}\n"
        f"{_('To:')} {', '.join(msg.to_addresses)}\n\n" + (msg.body_text or "")
    )


def reply_recipients(msg: Message, me: str, reply_all: bool) -> tuple[list[str], list[str]]:
    """(to, cc) for a reply: the other party; with reply-all, everyone else but me."""
    if msg.direction == Direction.INBOUND:
        to = [msg.from_address]
        others = msg.to_addresses + msg.cc_addresses
    else:
        to = list(msg.to_addresses)
        others = msg.cc_addresses
    cc = [a for a in others if a not in to and a != me] if reply_all else []
    return [a for a in to if a], cc


def presets(tz_name: str, now: datetime | None = None) -> list[tuple[str, str, datetime]]:
    """(key, label, aware time) for tomorrow morning and Monday morning, in the user's zone.

    The label says the time ("Tomorrow 8:00 AM", "Monday 8:00 AM", "Lundi 08:00") in the user's
    zone and language.
    """
    zone = ZoneInfo(tz_name)
    local = (now or utcnow()).astimezone(zone)
    tomorrow = (local + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    days = (7 - local.weekday()) % 7 or 7
    monday = (local + timedelta(days=days)).replace(hour=8, minute=0, second=0, microsecond=0)
    locale = get_locale()
    day = babel_dates.format_date(monday, "EEEE", locale=locale)
    return [
        (
            "tomorrow",
            _("Tomorrow %(time)s", time=babel_dates.format_time(tomorrow, "short", locale=locale)),
            tomorrow,
        ),
        (
            "monday",
            _(
                "%(day)s %(time)s",
                day=day[:1].upper() + day[1:],
                time=babel_dates.format_time(monday, "short", locale=locale),
            ),
            monday,
        ),
    ]


def preset_choices(tz_name: str, now: datetime | None = None) -> list[tuple[str, str]]:
    """The presets a form offers: on a Sunday, tomorrow is Monday, and one choice says so.

    A form still sending "monday" (shown on Saturday, sent on Sunday) gets Monday: `presets`
    keeps both keys.
    """
    choices: dict[datetime, tuple[str, str]] = {}
    for key, label, at in presets(tz_name, now):
        choices.setdefault(at, (key, label))
    return list(choices.values())


class MissingTime(ValueError):
    """The picker said "At a chosen time" but gave no date and time."""


def chosen_time(preset: str | None, typed: datetime | None, tz_name: str) -> datetime | None:
    """When a "When" picker says to send, as aware UTC (None: now).

    A preset key gives its time; anything else is the typed local time, and MissingTime when
    there is none. Compose and bulk both read their picker through this.
    """
    preset = preset or "now"
    if preset == "now":
        return None
    for key, _label, at in presets(tz_name):
        if key == preset:
            return at
    if typed is None:
        raise MissingTime(preset)
    return to_utc(typed, tz_name)


def same_time_on(at: datetime, day: date, tz_name: str) -> datetime:
    """`at` (aware UTC) moved to `day`, at the same time of day in the user's zone, as aware UTC."""
    local = at.astimezone(ZoneInfo(tz_name))
    return to_utc(datetime.combine(day, local.time().replace(tzinfo=None)), tz_name)


def to_utc(local_naive: datetime, tz_name: str) -> datetime:
    """A date and time typed in the user's zone, as aware UTC."""
    return local_naive.replace(tzinfo=ZoneInfo(tz_name)).astimezone(ZoneInfo("UTC"))


def to_local_naive(at: datetime, tz_name: str) -> datetime:
    return at.astimezone(ZoneInfo(tz_name)).replace(tzinfo=None)
