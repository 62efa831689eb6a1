"""Internationalised addresses: domains written as A-labels (xn--), look-alike domains refused.

A domain such as exämple.com goes on the wire as xn--exmple-cua.com, which every server
takes; only a non-ASCII local part (üser@) needs SMTPUTF8 (webapp/mail/outbound/transport.py).
A domain that mixes alphabets inside a name (pаypal.com with a Cyrillic "а"), or writes a name
in Cyrillic or Greek beside Latin ones, is the usual look-alike of a known domain: compose
refuses it with a clear message rather than send a candidate's data to it.
"""

import unicodedata

import idna

# Alphabets that write Latin look-alikes; CJK scripts mix among themselves in real names.
_LOOKS_LATIN = {"CYRILLIC", "GREEK"}
_CJK = {"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC", "KATAKANA-HIRAGANA"}


def unicode_domain(domain: str) -> str:
    """The domain as people read it (A-labels decoded); as given when it is not valid IDNA."""
    try:
        return idna.decode(domain) if "xn--" in domain.lower() else domain
    except idna.IDNAError:
        return domain


def _script(char: str) -> str:
    word = unicodedata.name(char, "UNKNOWN").split()[0]
    return "CJK" if word in _CJK else word


def _scripts(label: str) -> set[str]:
    return {_script(c) for c in label if c.isalpha()}


def looks_alike(domain: str) -> bool:
    """Whether the domain mixes alphabets in a way look-alike domains do."""
    labels = [_scripts(label) for label in unicode_domain(domain).split(".")]
    if any(len(scripts) > 1 for scripts in labels):
        return True
    used = set().union(*labels) if labels else set()
    return "LATIN" in used and bool(used & _LOOKS_LATIN)


def needs_smtputf8(address: str) -> bool:
    """Whether the address can only travel with SMTPUTF8 (a non-ASCII local part, say)."""
    return not address.isascii()
