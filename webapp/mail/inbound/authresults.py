"""Did the receiving server authenticate the sender? Read from its Authentication-Results (RFC 8601).

Anyone can write `From: Ada Admin <ada@our-company>`. The server that received the message
checked SPF, DKIM and DMARC and wrote what it found in an Authentication-Results header named
by its authserv-id; a sender can add such headers too, so only those of the servers we trust
(`MailDomain.authserv_ids`, INBOUND_AUTHSERV_IDS) count, and only the topmost one of each: a
receiving server prepends its header, so what the sender wrote (even in our server's name)
comes below it.

The verdict, for the From domain: PASS when DMARC passed, or when DKIM passed for a signing
domain aligned with it, or SPF for an aligned envelope sender; FAIL when DMARC failed, or
when DKIM or SPF explicitly failed and nothing passed; NONE when no trusted server said
anything that counts (no header from them, neutral results); UNKNOWN when no server is trusted
at all (INBOUND_AUTHSERV_IDS unset): then nobody can say, and no mail is called unverified for it.
"""

import re
from dataclasses import dataclass, field

from webapp.models import SenderAuth

# A hostile message can carry thousands of these, each huge: read a bounded number and length.
MAX_HEADERS = 20
MAX_HEADER_CHARS = 4000
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z][a-z0-9_-]*)\s*=\s*([a-z]+)", re.IGNORECASE)
_PROPERTY = re.compile(r"\b((?:header|smtp|policy)\.[a-z]+)\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)
_FAILED = ("fail", "softfail", "permerror")


@dataclass
class _Results:
    """What trusted servers said: method -> results, with the domains they were about."""

    methods: dict[str, list[tuple[str, dict[str, str]]]] = field(default_factory=dict)

    def add(self, method: str, result: str, props: dict[str, str]) -> None:
        self.methods.setdefault(method, []).append((result, props))

    def results(self, method: str) -> list[tuple[str, dict[str, str]]]:
        return self.methods.get(method, [])


def _parse(value: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """(authserv-id, [(method, result, properties)]) of one header's value."""
    value = _COMMENT.sub(" ", _COMMENT.sub(" ", value[:MAX_HEADER_CHARS]))  # comments nest once at most
    parts = value.split(";")
    authserv_id = (parts[0].split() or [""])[0].lower()
    found = []
    for part in parts[1:]:
        match = _RESULT.match(part)
        if match is None:
            continue
        props = {k.lower(): v.lower().strip("<>") for k, v in _PROPERTY.findall(part)}
        found.append((match.group(1).lower(), match.group(2).lower(), props))
    return authserv_id, found


def _raw_headers(msg) -> list[str]:
    """The Authentication-Results values, topmost first, never raising on a broken header."""
    values = []
    for name, value in msg.raw_items():
        if name.lower() == "authentication-results":
            values.append(" ".join(str(value).split()))
            if len(values) >= MAX_HEADERS:
                break
    return values


def trusted_results(msg, authserv_ids: frozenset[str]) -> _Results:
    """The results of the topmost header of each server we trust (stops at any other, or a second)."""
    results = _Results()
    if not authserv_ids or msg is None:
        return results
    seen: set[str] = set()
    for value in _raw_headers(msg):
        authserv_id, found = _parse(value)
        if authserv_id not in authserv_ids or authserv_id in seen:
            break  # below our servers' own headers: whatever the sender (or anyone on the way) wrote
        seen.add(authserv_id)
        for method, result, props in found:
            results.add(method, result, props)
    return results


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment, simplified: the same domain, or one a subdomain of the other."""
    if not domain or not from_domain:
        return False
    return domain == from_domain or from_domain.endswith("." + domain) or domain.endswith("." + from_domain)


def _domain_of(value: str) -> str:
    return value.rpartition("@")[2].strip().lower()


def sender_auth(msg, from_address: str, authserv_ids: frozenset[str]) -> SenderAuth:
    """The verdict for the From address of `msg` (PASS, FAIL or NONE), from trusted servers only;
    UNKNOWN when no server is trusted."""
    if not authserv_ids:
        return SenderAuth.UNKNOWN
    results = trusted_results(msg, authserv_ids)
    from_domain = _domain_of(from_address)
    dmarc = results.results("dmarc")
    if any(r == "pass" for r, _ in dmarc):
        return SenderAuth.PASS
    if any(r in _FAILED for r, _ in dmarc):
        return SenderAuth.FAIL
    for result, props in results.results("dkim"):
        signer = props.get("header.d") or _domain_of(props.get("header.i", ""))
        if result == "pass" and _aligned(signer, from_domain):
            return SenderAuth.PASS
    for result, props in results.results("spf"):
        envelope = _domain_of(props.get("smtp.mailfrom", "")) or props.get("smtp.helo", "")
        if result == "pass" and _aligned(envelope, from_domain):
            return SenderAuth.PASS
    if any(r in _FAILED for method in ("dkim", "spf") for r, _ in results.results(method)):
        return SenderAuth.FAIL
    return SenderAuth.NONE
