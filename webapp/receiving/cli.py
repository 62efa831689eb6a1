"""`flask mail import PATH` and `flask mail smtpd`."""

import json
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import cast

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from werkzeug.local import LocalProxy

from webapp.models import Outcome
from webapp.services import blob_store, mail_domain

mail_cli = AppGroup("mail", help="Receive and import mail.")


@mail_cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message instead of a summary.")
@click.option("--dry-run", is_flag=True, help="Classify against the database without storing anything.")
def import_command(path: Path, as_json: bool, dry_run: bool):
    """Import .eml files, an mbox or a maildir (duplicates are skipped)."""
    from webapp.receiving.importer import count_messages, dry_run_one, import_one, read_messages

    settings, store = mail_domain(), blob_store()
    seen: set[str] = set()
    outcomes: Counter = Counter()
    total = count_messages(path)
    with click.progressbar(length=total, label="Importing", file=sys.stderr, hidden=as_json) as bar:
        for source, raw in read_messages(path):
            if dry_run:
                result = dry_run_one(source, raw, settings=settings, seen=seen)
            else:
                result = import_one(source, raw, settings=settings, store=store)
            outcomes[result.outcome] += 1
            if as_json:
                click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
            bar.update(1)
    if not as_json:
        duplicates, quarantined = outcomes.pop(Outcome.DUPLICATE, 0), outcomes.get(Outcome.QUARANTINED, 0)
        imported = sum(outcomes.values())
        verb = "would import" if dry_run else "imported"
        click.echo(
            f"{total} messages: {imported} {verb}, {duplicates} duplicates, {quarantined} quarantined."
        )
        for outcome, n in sorted(outcomes.items()):
            click.echo(f"  {outcome}: {n}")


@mail_cli.command("smtpd")
@click.option("--host", default=None, help="Address to listen on (INBOUND_SMTP_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (INBOUND_SMTP_PORT, default 2525).")
@click.option("--lmtp", is_flag=True, help="Speak LMTP (behind Postfix) instead of SMTP.")
def smtpd_command(host, port, lmtp):
    """Run the inbound SMTP/LMTP listener until stopped."""
    from webapp.receiving.smtpd import InboundController

    # The listener's threads need the app itself, not this thread's proxy to it.
    app = cast("LocalProxy[Flask]", current_app)._get_current_object()
    host = host or app.config["INBOUND_SMTP_HOST"]
    port = port or app.config["INBOUND_SMTP_PORT"]
    controller = InboundController(app, host, port, lmtp=lmtp)
    controller.start()
    click.echo(
        f"Listening for {'LMTP' if lmtp else 'SMTP'} on {host}:{port} for @{app.config['INBOUND_DOMAIN']}",
        err=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
