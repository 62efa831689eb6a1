"""The return date an out-of-office reply names ("until 14 December", "jusqu'au 14/12", "bis zum 14.12.").

Languages: English, French, German, Spanish, Italian, Portuguese, Dutch, Polish (month names from
Babel's locale data, in every form and case). A date comes right after a word that means "until"
or "back on"; without a year it is the next such day on or after the reply; a date more than a
year ahead, or before the reply, is no return date. Never raises.
"""

import functools
import re
import unicodedata
from datetime import date, timedelta

from babel.dates import get_month_names

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl")
# Words after which the return date follows, accents stripped, lower case.
_UNTIL = (
    r"until|till|til|through|thru|back on|back in the office on|back in office on|return(ing)? on"
    r"|return(ing)?"
    r"|back|in the office (again )?(on|from)|available (again )?(on|from)"
    r"|jusqu'?au|jusqu'?a|jusqu au|retour (prevu )?le|de retour le|de retour|retour|a partir du"
    r"|bis zum|bis einschliesslich|bis|ab dem|ab|zuruck am|zuruck ab|wieder am|wieder ab|wieder erreichbar am"
    r"|hasta el|hasta|regreso el|de vuelta el|volvere el|a partir del"
    r"|fino al|fino a|rientro il|rientrero il|di ritorno il|tornero il|dal"
    r"|ate o dia|ate dia|ate|regresso a|regresso em|retorno em|retorno a|volto dia|volto a"
    r"|tot en met|t/m|tot|terug op|vanaf|weer aanwezig op|weer op kantoor op"
    r"|do dnia|do|powrot|wracam|od dnia|od"
)
_WEEKDAY = r"(?:[a-z]{2,12}\.?,?\s+(?:(?:the|le|den|el|il|o|de)\s+)?)?"
_NUMERIC = re.compile(r"(\d{1,4})[./-](\d{1,2})(?:[./-](\d{2,4}))?\.?")
_TEXTUAL_DAY_FIRST = re.compile(
    r"(\d{1,2})(?:st|nd|rd|th|er|\.|º|o)?\s+(?:de\s+)?([a-z]{3,12})\.?(?:\s+(?:de\s+)?(\d{4}))?"
)
_TEXTUAL_MONTH_FIRST = re.compile(r"([a-z]{3,12})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?(?:\s+(\d{4}))?")
_AFTER_UNTIL = re.compile(
    rf"\b(?:{_UNTIL})\b[\s:,]*(?:(?:the|le|den|dem|el|il|o|de|dia)\s+)?{_WEEKDAY}(?P<date>.{{0,40}})"
)
_LOOKED_AT = 4000  # the reply's first characters: the date is in the first lines


@functools.cache
def _months() -> dict[str, int]:
    """Month names and abbreviations of every language, accents stripped: their number."""
    names: dict[str, int] = {}
    for locale in LANGUAGES:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for number, name in get_month_names(width, context, locale).items():
                    names.setdefault(_plain(name).rstrip("."), number)
    # Short forms people write that the locale data spells otherwise.
    names.update({"sept": 9, "juil": 7, "dez": 12, "okt": 10, "mrt": 3, "mei": 5})
    return names


def warm_up() -> None:
    """Load the month names now, not while the first out-of-office waits (Babel: 40 to 300 ms)."""
    _months()


def _plain(text: str) -> str:
    """Lower case without accents, apostrophes made straight."""
    text = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(c for c in text if not unicodedata.combining(c))


def away_until(text: str, received: date) -> date | None:
    """The return date `text` (an out-of-office reply's subject and body) names, or None."""
    try:
        plain = _plain(text[:_LOOKED_AT])
        for found in _AFTER_UNTIL.finditer(plain):
            day = _date_at(found.group("date"), received)
            if day is not None:
                return day
    except Exception:
        return None
    return None


def _date_at(text: str, received: date) -> date | None:
    """The date the text starts with (numeric or with a month's name)."""
    text = text.strip()
    numeric = _NUMERIC.match(text)
    if numeric:
        return _numeric(numeric, received)
    months = _months()
    for pattern, day_group, month_group in ((_TEXTUAL_DAY_FIRST, 1, 2), (_TEXTUAL_MONTH_FIRST, 2, 1)):
        found = pattern.match(text)
        if found and found.group(month_group).rstrip(".") in months:
            month = months[found.group(month_group).rstrip(".")]
            return _valid(int(found.group(day_group)), month, found.group(3), received)
    return None


def _numeric(found: re.Match, received: date) -> date | None:
    first, second, third = found.group(1), found.group(2), found.group(3)
    if len(first) == 4:  # ISO 2026-12-14
        return _valid(int(third or 0), int(second), first, received) if third else None
    day, month = int(first), int(second)
    if month > 12 >= day:  # 12/14: the American order
        day, month = month, day
    return _valid(day, month, third, received)


def _valid(day: int, month: int, year: str | None, received: date) -> date | None:
    """The date, its year guessed when absent, if it can be a return date for a reply on `received`."""
    try:
        if year:
            number = int(year)
            found = date(number + 2000 if number < 100 else number, month, day)
        else:
            found = date(received.year, month, day)
            if found < received - timedelta(days=1):
                found = date(received.year + 1, month, day)
    except ValueError:
        return None
    if received - timedelta(days=1) <= found <= received + timedelta(days=366):
        return found
    return None
