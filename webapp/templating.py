"""Jinja filters and globals: dates in the user's time zone, sizes, the htmx script tag."""

from datetime import UTC, date, datetime
from functools import cached_property

from babel.dates import format_skeleton, get_time_format, parse_pattern
from flask import Flask, g, has_request_context
from flask_babel import (
    format_date,
    format_time,
    get_locale,
    get_timezone,
    get_translations,
    gettext,
    to_user_timezone,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from webapp.mail.inbound.bounce import plain_problem
from webapp.mail.phrases import Phrase
from webapp.mail.read.access import accessible_offer_ids
from webapp.mail.read.reasons import why_text as _why_text
from webapp.mail.sanitize import sanitize_html
from webapp.models import Outcome, Status
from webapp.models.types import utcnow

HTMX_VERSION = "2.0.11"
# The classifier's outcomes, as "why is this here?" names them.
OUTCOME_LABELS = {
    Outcome.DUPLICATE: _l("Duplicate"),
    Outcome.BOUNCE: _l("Delivery report"),
    Outcome.AUTO_REPLY: _l("Automatic reply"),
    Outcome.REPLY: _l("Reply to a conversation"),
    Outcome.INCOMING_CV: _l("Incoming CV"),
    Outcome.CANDIDATE: _l("From a candidate"),
    Outcome.INTERNAL: _l("From a team member"),
    Outcome.NON_CANDIDATE: _l("From someone not in the candidate database"),
    Outcome.QUARANTINED: _l("Quarantined"),
}
# Outbound statuses as the bulk progress view names them (a scheduled one is still queued).
STATUS_LABELS = {
    Status.QUEUED: _l("Queued"),
    Status.SCHEDULED: _l("Queued"),
    Status.SENDING: _l("Sending"),
    Status.SENT: _l("Sent"),
    Status.FAILED: _l("Failed"),
    Status.UNKNOWN: _l("Outcome unknown"),
    Status.CANCELLED: _l("Cancelled"),
}
HTMX_INTEGRITY = "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"
# The exact script the page loads from the CDN, and the only one the CSP lets it load from there.
HTMX_CDN_URL = f"https://unpkg.com/htmx.org@{HTMX_VERSION}/dist/htmx.min.js"


def translate(text: str) -> str:
    """A domain Phrase in the user's language; any other text as it is (already translated)."""
    if isinstance(text, Phrase):
        # A phrase may carry phrases (a bulk refusal names a compose refusal): those too.
        params = {k: translate(v) if isinstance(v, Phrase) else v for k, v in text.params.items()}
        return gettext(text.text, **params)
    return text


def short_date(value: datetime | None) -> str:
    """A list date: the time today, day and month this year, the date before.

    The same words as `full_date` in the same language ("Dec 5" / "5 déc." beside
    "Dec 5, 2026, 8:45 AM" / "5 déc. 2026, 08:45"): a row and its message header agree.
    Each distinct day (or minute, today) is formatted once a request: Babel takes about 0.1 ms
    a date, and a list shows 50 of them, mostly of a few days.
    """
    if value is None:
        return ""
    dates = _request_dates()
    if dates is None:
        return _short_date(value)
    # The words depend on the moment, the zone, the language and today only: a row shown again
    # (every list, every page) finds its date written, without the zone's arithmetic.
    key = (value, dates.key)
    found = _SHORT_DATES.get(key)
    if found is not None:
        return found
    local = dates.tzinfo.normalize(
        (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(dates.tzinfo)
    )
    if local.date() == dates.today:  # a busy day's rows are each of another minute: Babel's pattern, kept
        found = dates.time_pattern.apply(local, dates.locale, reference_date=value.date())
    else:
        found = dates.short.get(local.date())
        if found is None:
            found = dates.short[local.date()] = _short_date(value)
    if len(_SHORT_DATES) >= SHORT_DATES_KEPT:  # bounded: about 200 bytes a date
        _SHORT_DATES.clear()
    _SHORT_DATES[key] = found
    return found


SHORT_DATES_KEPT = 20_000
_SHORT_DATES: dict[tuple, str] = {}


def _short_date(value: datetime) -> str:
    local, today = to_user_timezone(value), to_user_timezone(utcnow())
    if local.date() == today.date():
        return format_time(value, "short")
    if local.year == today.year:
        return format_skeleton("MMMd", local, locale=get_locale())
    return format_date(value, "medium")


class _Dates:
    """What every date of a request shares: the user's time zone, today there, the dates formatted."""

    def __init__(self) -> None:
        self.tzinfo = get_timezone()
        self.locale = get_locale()
        self.today = to_user_timezone(utcnow()).date()
        self.short: dict[date, str] = {}
        # What a list date depends on besides the moment (the key of _SHORT_DATES).
        self.key = (str(self.tzinfo), str(self.locale), self.today)

    @cached_property
    def time_pattern(self):
        """What format_time(value, "short") applies, found and parsed once (a page served from
        Redis needs only the key)."""
        return parse_pattern(get_time_format("short", locale=self.locale))


def _request_dates() -> _Dates | None:
    if not has_request_context():
        return None
    dates = g.get("_hm_dates")
    if dates is None:
        dates = g._hm_dates = _Dates()
    return dates


def row_words() -> dict[str, str]:
    """The words a list row may show, translated once a request rather than on each of 50 rows.

    "select" keeps its %(name)s for the row to fill (`|format(name=...)`).
    """
    words = g.get("_hm_row_words") if has_request_context() else None
    if words is None:
        words = {
            "unread": gettext("Unread"),
            "to": gettext("To:"),
            "failed": gettext("Failed"),
            "held": gettext("Held"),
            "editing": gettext("Editing scheduled mail"),
            "attachments": gettext("Has attachments"),
            "no_subject": gettext("(no subject)"),
            "select": gettext("Select %(name)s", name="%(name)s"),
        }
        if has_request_context():
            g._hm_row_words = words
    return words


def _translations():
    """The request's translations, looked up once (flask-babel finds them anew on every string)."""
    if not has_request_context():
        return get_translations()
    found = g.get("_hm_translations")
    if found is None:
        found = g._hm_translations = get_translations()
    return found


def full_date(value: datetime | None) -> str:
    """Date and time to the minute, in the user's time zone and language."""
    return f"{format_date(value, 'medium')}, {format_time(value, 'short')}" if value else ""


def file_size(n: float) -> str:
    """A byte count as people read it: 512 B, 1.5 KB, 2.0 MB."""
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def offer_shown(offer_id: int | None) -> bool:
    """Whether the signed-in user may see this offer's title, stage or chip (read once a request).

    A candidate or a conversation can be on offers the user has no access to: those never show.
    """
    if offer_id is None:
        return False
    ids = g.get("offer_ids", _NOT_READ)  # asked for each row of a list: the request's answer first
    if ids is _NOT_READ:
        if not current_user.is_authenticated:
            return False
        ids = g.offer_ids = accessible_offer_ids(current_user)
    return ids is None or offer_id in ids


_NOT_READ = object()


def delivery_problem(error: str | None, delayed: bool = False) -> str:
    """What went wrong with a delivery, in plain words in the user's language ("Mailbox full")."""
    return translate(plain_problem(error, delayed=delayed))


def why_text(reason: str | None) -> str:
    """The classifier's stored reason ("why is this here?") in the user's language."""
    return _why_text(reason, gettext)


def away_date(value: date | None) -> str:
    """A return date as people say it: "Mon 14 Dec" (the year only when it is not this one)."""
    if value is None:
        return ""
    pattern = "EEE d MMM" if value.year == date.today().year else "EEE d MMM y"
    return format_date(value, pattern)


def warm_templates(app: Flask) -> int:
    """Compile every HTML template now; how many. A web worker calls it at start (gunicorn.conf.py),
    so its first page of each kind does not pay for compiling (60 ms for a first inbox)."""
    names = app.jinja_env.list_templates(extensions=("html",))
    for name in names:
        app.jinja_env.get_template(name)
    return len(names)


def register_templating(app: Flask) -> None:
    # The same callables flask-babel installs, with the request's translations found once (the
    # method comes with Jinja's i18n extension, which flask-babel added).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters.update(
        translate=translate,
        short_date=short_date,
        full_date=full_date,
        file_size=file_size,
        delivery_problem=delivery_problem,
        away_date=away_date,
        why_text=why_text,
        sanitize_html=sanitize_html,
    )
    app.jinja_env.globals.update(
        htmx_version=HTMX_VERSION,
        htmx_cdn_url=HTMX_CDN_URL,
        htmx_integrity=HTMX_INTEGRITY,
        get_locale=get_locale,
        outcome_labels=OUTCOME_LABELS,
        status_labels=STATUS_LABELS,
        offer_shown=offer_shown,
        row_words=row_words,
    )
