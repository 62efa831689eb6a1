"""Reading headers of untrusted mail without ever raising: the one safe header reader.

Also the text of a header written in raw 8-bit bytes with no declared charset (mail servers in
China, Japan and Russia still send subjects so, in GB2312, Shift_JIS or KOI8-R) or in 7-bit
ISO-2022-JP without encoded words: `header_texts` gives every plausible reading, best first.
"""

import re
import unicodedata

# Charsets tried on raw 8-bit header bytes that are not UTF-8, in order of preference on a tie.
_GUESSES = ("gb18030", "shift_jis", "euc-jp", "big5", "euc-kr", "koi8-r", "cp1251", "cp1252")
# Recognising a subject needs its start; a hostile one can be 200 KB.
_SUBJECT_CHARS = 1000
# A body can be long: the first characters tell its charset as well as the whole.
_SCORED_CHARS = 2000
_ISO_2022_JP = re.compile(r"\x1b[$(][@BJ]")
# An address header policy.default would only tidy: plain `addr-spec`, `Name Words <addr-spec>`
# or `<addr-spec>`, comma-separated, in printable ASCII, with no quotes, comments, groups,
# routes or encoded words. parseaddr/getaddresses read the same mailboxes from such a value as
# from the policy's rendering of it, without its parser (about 0.1 ms a header); any other value
# still goes through the policy.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*"
_MAILBOX = rf"(?:{_ADDR_SPEC}|(?:{_ATOM} )*<{_ADDR_SPEC}>)"
_PLAIN_MAILBOXES = re.compile(rf"{_MAILBOX}(?:, ?{_MAILBOX})* ?")
# Russian letters by frequency (per mille): text read in the wrong Cyrillic charset scores low.
_RUSSIAN = dict(
    zip(
        "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
        (110, 85, 80, 74, 67, 63, 55, 47, 45, 44, 35, 32, 30, 28, 26, 20, 19)
        + (17, 17, 16, 16, 14, 12, 10, 9, 7, 6, 5, 4, 3, 3, 1, 1),
        strict=True,
    )
)


def header_value(msg, name: str) -> str:
    """The header's text on one line ("" when absent); raw text when the policy can't parse it.

    Kept on the message once read: the bounce and auto-reply rules read the same headers, and
    the policy parses a long one (a 200 KB Subject of encoded words) for seconds each time.
    """
    cache = _cache_of(msg)
    key = name.lower()
    if cache is not None and key in cache:
        return cache[key]
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse: fall back to its raw text
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    text = " ".join(str(value).split()) if value is not None else ""
    if cache is not None:
        cache[key] = text
    return text


def _cache_of(msg) -> dict[str, str] | None:
    """The message's own cache of header texts (parsed mail does not change), if it can hold one."""
    try:
        return msg.__dict__.setdefault("_hiremail_header_texts", {})
    except AttributeError:
        return None


def kept(msg, key: str, compute):
    """compute(msg), worked out once per parsed message (which does not change) and kept on it."""
    try:
        cache = msg.__dict__.setdefault("_hiremail_kept", {})
    except AttributeError:
        return compute(msg)
    if key not in cache:
        cache[key] = compute(msg)
    return cache[key]


def header_names(msg) -> frozenset[str]:
    """The names of the message's headers, lower-cased."""
    return kept(msg, "header_names", lambda m: frozenset(k.lower() for k in m))


def has_header(msg, name: str) -> bool:
    """Whether the message has a header of that name (any case)."""
    return name.lower() in header_names(msg)


def plain_mailboxes(msg, name: str) -> list[str] | None:
    """The values of address header `name` (unfolded, as the policy reads them), if all are plain."""
    name = name.lower()
    values = [v for k, v in msg.raw_items() if k.lower() == name]
    if not all(isinstance(v, str) for v in values):
        return None
    values = [v.replace("\r", "").replace("\n", "") for v in values]
    if all(_PLAIN_MAILBOXES.fullmatch(v) and "=?" not in v for v in values):
        return values
    return None


def header_texts(msg, name: str) -> list[str]:
    """Every plausible reading of the header, best first (one for a well-formed header)."""
    try:
        raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    except Exception:
        raw = None
    if isinstance(raw, str) and _ISO_2022_JP.search(raw):
        readings = texts_of(raw.encode("ascii", "surrogateescape"))
    elif isinstance(raw, str) and any("\udc80" <= c <= "\udcff" for c in raw):
        # The parser keeps undecodable bytes as surrogates: get the bytes back and read them.
        readings = texts_of(raw.encode("utf-8", "surrogateescape"))
    else:
        readings = []
    readings = [" ".join(r.split()) for r in readings]
    return readings or [header_value(msg, name)]


def part_text(part) -> str:
    """A text part's content; bytes in an undeclared charset (raw 8-bit, ISO-2022-JP) guessed."""
    try:
        declared = part.get_param("charset")
    except Exception:
        declared = None
    if not declared:
        try:
            data = part.get_payload(decode=True)
        except Exception:
            data = None
        if isinstance(data, bytes) and (not data.isascii() or b"\x1b" in data):
            return best_text(data)
    try:
        return part.get_content()
    except Exception:
        data = part.get_payload(decode=True) or b""
        return data.decode("utf-8", errors="replace")


def subject_texts(msg) -> list[str]:
    """The Subject's readings (header_texts), cut to what a rule needs to recognise it."""
    return [text[:_SUBJECT_CHARS] for text in header_texts(msg, "Subject")]


def best_text(data: bytes) -> str:
    """The likeliest reading of header bytes in an undeclared charset."""
    return texts_of(data)[0]


def texts_of(data: bytes) -> list[str]:
    """Plausible readings of bytes in an undeclared charset, likeliest first (never empty)."""
    if b"\x1b" in data:
        try:
            return [data.decode("iso-2022-jp")]
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return [data.decode("utf-8")]
    except UnicodeDecodeError:
        pass
    scored = []
    for charset in _GUESSES:
        try:
            text = data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
        if not any(unicodedata.category(c) in ("Cc", "Co", "Cn") and c not in "\t\r\n" for c in text):
            scored.append((_plausibility(text[:_SCORED_CHARS], charset), text))
    scored.sort(key=lambda s: s[0], reverse=True)  # stable: charset order breaks ties
    readings = list(dict.fromkeys(text for _, text in scored))
    return readings or [data.decode("utf-8", errors="replace")]


# Where each charset keeps the characters in everyday use (first level of GB2312, the common
# block of Big5, first level of JIS X 0208): an ideograph outside it is most likely bytes read
# in the wrong charset.
_COMMON_LEADS = {
    "gb18030": ("gb2312", 0xB0, 0xD7),
    "big5": ("big5", 0xA4, 0xC6),
    "shift_jis": ("shift_jis", 0x88, 0x98),
    "euc-jp": ("shift_jis", 0x88, 0x98),
}


# A Latin letter glued to a Cyrillic letter or an ideograph: a Latin-1 accent read as something else.
_GLUED = re.compile(r"[A-Za-z](?=[\u0400-\u04ff\u4e00-\u9fff])|[\u0400-\u04ff\u4e00-\u9fff](?=[A-Za-z])")


def _plausibility(text: str, charset: str) -> float:
    """How much `text` looks like real writing in `charset`, per byte read."""
    score = 0.0
    previous = ""
    for c in text:
        o = ord(c)
        if 0x3040 <= o <= 0x30FF:  # hiragana and katakana: Japanese
            score += 2 if charset in ("shift_jis", "euc-jp") else 0.5
        elif 0xFF61 <= o <= 0xFF9F:  # half-width katakana: CJK bytes read as Shift_JIS
            score -= 3
        elif 0x4E00 <= o <= 0x9FFF:
            score += _common_ideograph(c, charset)
        elif 0x0400 <= o <= 0x04FF:
            # Lower case after upper case inside a word is how Cyrillic read in the wrong charset looks.
            mixed = previous.islower() and c.isupper() and 0x0400 <= ord(previous) <= 0x04FF
            score += _RUSSIAN.get(c.lower(), 0) / 40 - (3 if mixed else 0)
        elif 0xAC00 <= o <= 0xD7A3:  # Hangul
            score += 1
        elif 0xC0 <= o <= 0xFF and c.isalpha():  # accented Latin letters
            score += 1.5 if previous.isascii() or (0xC0 <= ord(previous) <= 0xFF) else 0.5
        elif o > 0x7F and not c.isalpha():
            score -= 1
        previous = c
    score -= 3 * len(_GLUED.findall(text))
    return score / max(len(text.encode(charset, errors="replace")), 1)


def _common_ideograph(c: str, charset: str) -> float:
    common = _COMMON_LEADS.get(charset)
    if common is None:
        return 0.2
    name, low, high = common
    try:
        lead = c.encode(name)[0]
    except UnicodeEncodeError:
        return 0.2
    return 2 if low <= lead <= high else 0.2
