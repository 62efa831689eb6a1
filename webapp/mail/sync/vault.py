"""Mailbox passwords encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256), keys from MAILBOX_KEYS.

MAILBOX_KEYS lists Fernet keys, newest first, separated by commas. The first encrypts; every one
decrypts, so a new key is put in front, `flask mailbox rotate-keys` re-encrypts the stored
secrets, and the old key is then dropped. A local run without keys derives one from SECRET_KEY;
production never does (`vault_for` returns None and connecting a mailbox is refused).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class VaultError(RuntimeError):
    """A secret could not be decrypted: none of MAILBOX_KEYS made it."""


class Vault:
    """Encrypts and decrypts the mailbox secrets with MultiFernet."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken as exc:
            raise VaultError("the stored mailbox password cannot be decrypted with MAILBOX_KEYS") from exc

    def rotate(self, token: bytes) -> bytes:
        """The same secret, encrypted with the first key."""
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken as exc:
            raise VaultError("the stored mailbox password cannot be decrypted with MAILBOX_KEYS") from exc


def derived_key(secret_key: str) -> str:
    """A Fernet key derived from SECRET_KEY: for a local run only."""
    digest = hashlib.sha256(b"hiremail mailbox secrets\0" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def vault_for(keys: str | None, *, secret_key: str, production: bool) -> Vault | None:
    """The vault for these settings; None in production without MAILBOX_KEYS (never a derived key)."""
    listed = [k.strip() for k in (keys or "").split(",") if k.strip()]
    if listed:
        return Vault(listed)
    if production:
        return None
    return Vault([derived_key(secret_key)])
