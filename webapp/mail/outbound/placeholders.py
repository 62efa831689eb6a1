"""Template placeholders: [candidate.first_name], [job.title|our team], ...

`[name]` is replaced by its value; `[name|fallback]` uses the fallback when the value is empty.
An unknown name, or a known one with no value and no fallback, is a problem that blocks sending
(with the placeholder named), never a silent blank in a candidate's mail.
"""

import re
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"\[([a-z_]+\.[a-z_]+)(?:\|([^\[\]\n]*))?\]")
KNOWN = (
    "candidate.first_name",
    "candidate.last_name",
    "candidate.full_name",
    "candidate.email",
    "job.title",
    "sender.name",
    "sender.first_name",
    "sender.email",
    "company.name",
)


@dataclass
class Rendered:
    text: str
    unknown: list[str]
    unfilled: list[str]

    @property
    def ok(self) -> bool:
        return not self.unknown and not self.unfilled


def context_for(candidate=None, offer=None, sender=None, company: str = "", sender_address: str = "") -> dict:
    """The values placeholders can take for one recipient."""
    first = (sender.name.split()[0] if sender and sender.name else "") if sender else ""
    return {
        "candidate.first_name": candidate.first_name if candidate else "",
        "candidate.last_name": candidate.last_name if candidate else "",
        "candidate.full_name": candidate.full_name if candidate else "",
        "candidate.email": candidate.primary_email or "" if candidate else "",
        # A talent pool is not a job: its name never stands for a job title (the placeholder is
        # then missing, and refuses the send unless it has a fallback).
        "job.title": offer.title if offer is not None and offer.is_job else "",
        "sender.name": sender.name if sender else "",
        "sender.first_name": first,
        "sender.email": sender_address,
        "company.name": company,
    }


def render(text: str, values: dict) -> Rendered:
    """Fill the placeholders of `text` from `values`."""
    unknown, unfilled = [], []

    def replace(match: re.Match) -> str:
        name, fallback = match.group(1), match.group(2)
        if name not in KNOWN:
            unknown.append(match.group(0))
            return match.group(0)
        value = (values.get(name) or "").strip()
        if value:
            return value
        if fallback is not None:
            return fallback
        unfilled.append(match.group(0))
        return match.group(0)

    return Rendered(
        PLACEHOLDER.sub(replace, text), list(dict.fromkeys(unknown)), list(dict.fromkeys(unfilled))
    )


def find(text: str) -> list[str]:
    """The placeholders written in `text`, in order."""
    return [m.group(0) for m in PLACEHOLDER.finditer(text)]
