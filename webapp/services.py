"""Services the factory builds once, read by views, jobs and commands through the app.

They live in `app.extensions`, so each app (a test's, a worker's) has its own, and nothing
else reads their settings from the config.
"""

from dataclasses import dataclass

from flask import Flask, current_app

from webapp.mail.domain import MailDomain
from webapp.mail.storage import BlobStore
from webapp.mail.sync.vault import Vault, vault_for

_KEY = "hiremail_services"


@dataclass(frozen=True)
class Services:
    blob_store: BlobStore
    mail_domain: MailDomain
    mailbox_vault: Vault | None  # None: production without MAILBOX_KEYS (no mailbox can connect)


def init_app(app: Flask) -> None:
    """Build the services from the app's config (create_app calls this once)."""
    config = app.config
    app.extensions[_KEY] = Services(
        blob_store=BlobStore(config["STORAGE_DIR"]),
        mail_domain=MailDomain(
            domain=config["INBOUND_DOMAIN"],
            secret=config["INBOUND_SECRET"],
            authserv_ids=frozenset(config["INBOUND_AUTHSERV_IDS"]),
        ),
        mailbox_vault=vault_for(
            config.get("MAILBOX_KEYS"),
            secret_key=config["SECRET_KEY"],
            production=config.get("PRODUCTION", False),
        ),
    )


def blob_store() -> BlobStore:
    """The current app's store of raw messages and attachments."""
    return current_app.extensions[_KEY].blob_store


def mail_domain() -> MailDomain:
    """The current app's mail domain and address secret."""
    return current_app.extensions[_KEY].mail_domain


def mailbox_vault() -> Vault | None:
    """The current app's keys for mailbox passwords; None when production has no MAILBOX_KEYS."""
    return current_app.extensions[_KEY].mailbox_vault
