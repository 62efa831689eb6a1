"""`flask mailbox ...`: operator commands for mailbox sync."""

import click

from webapp.mail.sync.runner import rotate_secrets
from webapp.mailbox_sync import bp
from webapp.services import mailbox_vault


@bp.cli.command("rotate-keys")
def rotate_keys_command() -> None:
    """Re-encrypt every stored mailbox password with the first of MAILBOX_KEYS (then drop the old key)."""
    vault = mailbox_vault()
    if vault is None:
        raise click.ClickException("MAILBOX_KEYS is not set")
    done, unreadable = rotate_secrets(vault)
    click.echo(f"{done} mailbox password(s) re-encrypted with the first key")
    if unreadable:
        ids = ", ".join(str(i) for i in unreadable)
        raise click.ClickException(f"no key in MAILBOX_KEYS decrypts the password of connection(s) {ids}")
