"""Recognise automatic replies (out-of-office and the like) and mailing-list or bulk mail.

Pure functions over a parsed `EmailMessage`; neither raises, whatever the input.
Bounces also look automatic (Auto-Submitted: auto-replied), so callers check bounce.py first; and
Auto-Submitted from a mail daemon never makes a report an auto-reply.
"""

import re
import unicodedata
from email.message import EmailMessage

from webapp.mail.inbound.bounce import challenge_in_report, daemon_sender
from webapp.mail.inbound.headers import has_header, header_value, subject_texts
from webapp.mail.inbound.subjects import CHALLENGE_TEXT

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
    r"automatische (antwort|abwesenheitsnotiz)",
    r"au(ss|ß)er haus",
    r"nicht im b[üu]ro",
    r"risposta automatica",
    r"fuori (sede|ufficio)",
    r"resposta autom[áa]tica",
    r"fora do escrit[óo]rio",
    r"automatyczna odpowied[źz]",
    r"poza biurem",
    r"autom[āa]tisk[āa] atbilde",
    r"automatiskt svar|autosvar|automatisk svar|fr[åa]nvaro",
    r"automatick[áa] odpov[ěe][ďd]|mimo kancel[áa][řr]",
    r"automaattinen vastaus",
    r"automatikus v[áa]lasz",
    r"otomatik (yan[ıi]t|cevap)",
    r"автоответ|автоматический ответ|вне офиса|в отпуске",
    r"vacation (reply|message|notice|auto)",
    r"on (vacation|holiday|leave)",
    r"away from (the |my )?(office|desk)",
    r"je suis absent",
    r"en cong[ée]s?",
    r"autorisposta|assenza",
    r"mensaje autom[áa]tico|respuesta de ausencia",
    r"r[ăa]spuns automat",
    r"automatick[áa] odpove[ďd]|automatski odgovor",
    r"αυτόματη απάντηση",
    # Outlook's "Automatic reply:" in the other languages it writes it in.
    r"автоматична відповідь|автоматичен отговор|automatinis atsakymas|automaatne vastus",
    r"samodejni odgovor|resposta autom[àa]tica|balasan (otomatis|automatik)|jawapan automatik",
    r"tr[ảa] l[ờo]i t[ựu] đ[ộo]ng|תשובה אוטומטית|رد تلقائي",
    r"(?-i:OO[OF])\b",  # capitals only: "Oof, what a week" is a person
    r"niet aanwezig|niet op kantoor",
]
# Single words that also open ordinary subjects ("Absence of feedback"): only alone or before ":".
_OOO_WORDS = (
    r"absence|absent|abwesend|abwesenheit|ausente|afwezig|afwezigheid|assente|nieobecn\w*|fr[åa]nvarande|frav[æa]r\w*"
    r"|poissa|vacation|holiday|urlaub|vacances|cong[ée]s?|vacaciones|ferie|f[ée]rias|vakantie|urlop"
)
# Japanese and Chinese write no spaces, so no word boundary follows these.
_OOO_CJK = r"自動応答|自動返信|不在|自动回复|自動回覆|自動回復|休假|外出中|자동 회신|자동 응답|ตอบกลับอัตโนมัติ"
_OOO_SUBJECT = re.compile(
    rf"^[\[(【]?\s*(({'|'.join(_OOO_PHRASES)})\b|({_OOO_WORDS})\s*([:\-–(\[]|$)|{_OOO_CJK})"
    # Lotus Notes writes "Jane Doe is out of the office."
    r"|\bis out of the office\b",
    re.I,
)
_BULK_PRECEDENCE = {"bulk", "list", "junk"}
# Vacation programs and autoresponders that name themselves in X-Mailer.
_VACATION_MAILER = re.compile(r"vacation|auto-?respon|auto-?reply|out of office|autoantwort", re.I)
# Challenge-response systems: mail held until the sender proves to be a person.
_CHALLENGE_HEADERS = (
    "X-Boxbe-Challenge",
    "X-SpamArrest-Challenge",
    "X-Challenge",
    "X-Bluebottle-Request",
    "X-TMDA",
)
_CHALLENGE_SUBJECT = re.compile(
    r"spam ?arrest|boxbe|mailblocks|tmda|choicemail|bluebottle|sender verification|verification required"
    r"|(please )?(confirm|verify) (that )?(you are (a )?(human|person|real)"
    r"|your (e-?mail|message|identity|sender))"
    r"|(awaiting|pending) (your )?(confirmation|verification)|approval (is )?required",
    re.I,
)
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
        return has_header(msg, "List-Id") or has_header(msg, "List-Unsubscribe")
    except Exception:
        return False


def _reason(msg) -> str | None:
    submitted = _token(header_value(msg, "Auto-Submitted"))
    # Mail servers set Auto-Submitted on their reports too: from a daemon it names no auto-reply.
    if submitted and submitted != "no" and daemon_sender(msg) != "daemon":
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Mail-Autoreply", "X-Vacation"):
        if has_header(msg, name) and _token(header_value(msg, name)) not in _NEGATIVE:
            return f"{name} header"
    if _token(header_value(msg, "Precedence")) == "auto_reply":
        return "Precedence: auto_reply"
    if _token(header_value(msg, "X-Autogenerated")) == "reply":
        return "X-Autogenerated: Reply"
    # X-Auto-Response-Suppress "All" is not a signal (Outlook sets it on ordinary mail); naming
    # OOF or AutoReply is what Exchange's own automatic replies do.
    suppress = header_value(msg, "X-Auto-Response-Suppress").lower()
    if re.search(r"\b(oof|autoreply)\b", suppress):
        return "X-Auto-Response-Suppress: OOF/AutoReply"
    if _VACATION_MAILER.search(header_value(msg, "X-Mailer")):
        return "X-Mailer of a vacation program"
    challenge = _challenge(msg)
    if challenge:
        return challenge
    null_sender = header_value(msg, "Return-Path").replace(" ", "") == "<>"
    bulk = _token(header_value(msg, "Precedence")) in {"bulk", "junk"}
    listed = has_header(msg, "List-Id") or has_header(msg, "List-Unsubscribe")
    if null_sender and bulk and not listed:  # a list post or a newsletter is not an auto-reply
        return "null Return-Path with Precedence: bulk"
    if any(is_out_of_office_subject(s) for s in subject_texts(msg)):
        return "out-of-office subject"
    return None


def _challenge(msg) -> str | None:
    """A challenge-response system asking the sender to confirm before the mail is delivered."""
    if any(has_header(msg, name) for name in _CHALLENGE_HEADERS) or challenge_in_report(msg):
        return "challenge-response request"
    subject = subject_texts(msg)[0]
    if _CHALLENGE_SUBJECT.search(subject):
        body = msg.get_body(preferencelist=("plain", "html"))
        text = body.get_content()[:4000] if body is not None else ""
        if CHALLENGE_TEXT.search(text) or re.search(
            r"spam ?arrest|boxbe|mailblocks|tmda|choicemail", subject, re.I
        ):
            return "challenge-response request"
    return None


def is_out_of_office_subject(subject: str) -> bool:
    """Whether `subject` is an out-of-office reply's, after any reply prefixes."""
    subject = unicodedata.normalize("NFC", " ".join(subject.split()))
    return bool(_OOO_SUBJECT.search(_PREFIXES.sub("", subject)))


def _token(value: str) -> str:
    """The keyword of a header value, without parameters or comments: "auto-replied"."""
    return re.split(r"[;(\s]", value.strip(), maxsplit=1)[0].lower()
