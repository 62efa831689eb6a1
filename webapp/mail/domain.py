"""The mail domain we receive and send for, and the secret that signs its reply and bounce addresses."""

from dataclasses import dataclass


@dataclass(frozen=True)
class MailDomain:
    """INBOUND_DOMAIN and INBOUND_SECRET, read once: what addresses and Message-IDs are made of;
    and INBOUND_AUTHSERV_IDS, the receiving servers whose Authentication-Results we trust."""

    domain: str
    secret: str
    authserv_ids: frozenset[str] = frozenset()
