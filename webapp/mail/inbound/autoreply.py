"""Recognise automatic replies (out-of-office and the like) and mailing-list or bulk mail.

Pure functions over a parsed `EmailMessage`; neither raises, whatever the input.
Bounces also look automatic (Auto-Submitted: auto-replied), so callers check bounce.py first.
"""

import re
import unicodedata
from email.message import EmailMessage

from webapp.mail.inbound.headers import header_value

# Reply and forward prefixes in the languages we match, e.g. "Re:", "AW:", "RE :", "Antw:", "Re[2]:".
_PREFIXES = re.compile(r"^(\s*(re|aw|antw|antwort|sv|vs|wg|fw|fwd|tr|rv|rif)\s*(\[\d+\])?\s*:)+\s*", re.I)
# Phrases that only an out-of-office reply starts its subject with.
_OOO_PHRASES = [
    r"out[ -]of[ -](the[ -])?office",
    r"auto(matic)?[ -]?(reply|response)",
    r"r[ée]ponse automatique",
    r"absent(e)? du bureau",
    r"absence du bureau",
    r"message d'absence",
    r"abwesenheitsnotiz",
    r"automatische antwort",
    r"respuesta autom[áa]tica",
    r"fuera de (la )?oficina",
    r"automatisch antwoord",
]
# Single words that also open ordinary subjects ("Absence of feedback"): only alone or before ":".
_OOO_WORDS = r"absence|absent|abwesend|abwesenheit|ausente|afwezig|afwezigheid"
_OOO_SUBJECT = re.compile(
    rf"^[\[(]?\s*(({'|'.join(_OOO_PHRASES)})\b|({_OOO_WORDS})\s*([:\-–(\[]|$))"
    # Lotus Notes writes "Jane Doe is out of the office."
    r"|\bis out of the office\b",
    re.I,
)
_BULK_PRECEDENCE = {"bulk", "list", "junk"}
_NEGATIVE = {"no", "false", "0"}


def auto_reply_reason(msg: EmailMessage) -> str | None:
    """Why `msg` is an automatic reply, or None when it is not one."""
    try:
        return _reason(msg)
    except Exception:
        return None


def is_bulk(msg: EmailMessage) -> bool:
    """Whether `msg` is mailing-list or bulk mail."""
    try:
        if _token(header_value(msg, "Precedence")) in _BULK_PRECEDENCE:
            return True
        return _has_header(msg, "List-Id") or _has_header(msg, "List-Unsubscribe")
    except Exception:
        return False


def _reason(msg) -> str | None:
    submitted = _token(header_value(msg, "Auto-Submitted"))
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if _has_header(msg, name) and _token(header_value(msg, name)) not in _NEGATIVE:
            return f"{name} header"
    if _token(header_value(msg, "Precedence")) == "auto_reply":
        return "Precedence: auto_reply"
    # X-Auto-Response-Suppress is deliberately not a signal: Outlook sets it on ordinary mail.
    if is_out_of_office_subject(header_value(msg, "Subject")):
        return "out-of-office subject"
    return None


def is_out_of_office_subject(subject: str) -> bool:
    """Whether `subject` is an out-of-office reply's, after any reply prefixes."""
    subject = unicodedata.normalize("NFC", " ".join(subject.split()))
    return bool(_OOO_SUBJECT.search(_PREFIXES.sub("", subject)))


def _has_header(msg, name: str) -> bool:
    return any(k.lower() == name.lower() for k in msg)


def _token(value: str) -> str:
    """The keyword of a header value, without parameters or comments: "auto-replied"."""
    return re.split(r"[;(\s]", value.strip(), maxsplit=1)[0].lower()
