"""Our inbound addresses: personal, job CV, company CV, signed reply and bounce (VERP) addresses.

<local>@D             a user's personal address
cv@D                  the company CV inbox
cv+<job slug>@D       a job's CV address
reply+<thread>.<sig>@D   Reply-To of our outbound mail: finds its conversation even when
                         the candidate's client drops In-Reply-To
bounce+<message>.<sig>@D Return-Path of our outbound mail: a bounce finds its message
"""

import hashlib
import hmac
from dataclasses import dataclass

SIGNATURE_LENGTH = 16


@dataclass(frozen=True)
class Target:
    """What an address of our domain points at."""

    kind: str  # "user", "cv", "reply", "bounce"
    value: str | int | None  # user local part, job slug (None: company inbox), thread id, message id


def _sign(kind: str, number: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()
    return digest[:SIGNATURE_LENGTH]


def reply_address(thread_id: int, domain: str, secret: str) -> str:
    return f"reply+{thread_id}.{_sign('reply', thread_id, secret)}@{domain}"


def bounce_address(message_id: int, domain: str, secret: str) -> str:
    return f"bounce+{message_id}.{_sign('bounce', message_id, secret)}@{domain}"


def _signed_number(kind: str, token: str, secret: str) -> int | None:
    number, _, signature = token.partition(".")
    if not number.isdigit() or len(number) > 18:
        return None
    if not hmac.compare_digest(signature, _sign(kind, int(number), secret)):
        return None  # forged or mangled: treat as an unknown address
    return int(number)


def resolve(address: str, domain: str, secret: str) -> Target | None:
    """The Target of an address at our domain, or None (other domain, bad signature)."""
    local, _, host = address.strip().lower().rpartition("@")
    if host != domain.lower() or not local:
        return None
    if local == "cv":
        return Target("cv", None)
    base, plus, tag = local.partition("+")
    if plus and base == "cv" and tag:
        return Target("cv", tag)
    if plus and base in ("reply", "bounce"):
        number = _signed_number(base, tag, secret)
        return Target(base, number) if number is not None else None
    if plus:
        return Target("user", base)  # rita+anything@ still reaches rita
    return Target("user", local)
