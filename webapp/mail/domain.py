"""The mail domain we receive and send for, and the secret that signs its reply and bounce addresses."""

from dataclasses import dataclass


@dataclass(frozen=True)
class MailDomain:
    """INBOUND_DOMAIN and INBOUND_SECRET, read once: what addresses and Message-IDs are made of."""

    domain: str
    secret: str
