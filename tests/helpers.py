"""Small assertions shared by the tests, read through the HTML parser (tests/dom.py)."""

import contextlib

from sqlalchemy import event

from tests.dom import parse


def row_subjects(html: str) -> list[str]:
    """The subjects of the conversation rows in a list page or fragment, in order."""
    rows = parse(html).find_all("li", id=lambda v: v.startswith("thread-row-"))
    subjects = []
    for row in rows:
        subject = row.find("span", class_="row-subject")
        subjects.append(subject.text if subject else "")
    return subjects


def unread_count(html: str, slug: str) -> int:
    """The unread badge of a folder in the nav (0 when there is none)."""
    link = parse(html).find("a", data_folder=slug)
    assert link, f"folder {slug} not in the nav"
    count = link.find("span", class_="count")
    return int(count.text) if count else 0


def open_and_read(client, auth, url: str):
    """Open a conversation as the browser does: the GET, then the pane's own mark-read POST."""
    response = client.get(url)
    trigger = parse(response.get_data(as_text=True)).find(id="mark-read")
    if trigger is not None:
        client.post(
            trigger.get("hx-post"), headers={"HX-Request": "true", "X-CSRFToken": auth.csrf_token(url)}
        )
    return response


def add_mailbox(user, *, password: str = "x", **fields):
    """Store a mailbox connection of this user (IMAP at imap.example.test over TLS unless told) and
    return it, flushed; the caller's app context and commit."""
    from webapp.extensions import db
    from webapp.models import MailboxConnection
    from webapp.services import mailbox_vault

    values = {
        "host": "imap.example.test",
        "port": 993,
        "security": "tls",
        "username": user.email,
        "secret": mailbox_vault().encrypt(password),
    }
    connection = MailboxConnection(user_id=user.id, **(values | fields))
    db.session.add(connection)
    db.session.flush()
    return connection


@contextlib.contextmanager
def counting(app):
    """Count the statements the app runs (the login's own are done before)."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    from webapp.extensions import db  # (as add_mailbox: the app is made by the fixtures first)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def stored(app, raw: bytes) -> int:
    """Store the bytes as an entry point does, without queueing anything; the row's id."""
    from webapp.extensions import db
    from webapp.mail.inbound.pipeline import store_inbound
    from webapp.services import blob_store

    with app.app_context():
        message_id = store_inbound(raw, store=blob_store(), source="smtp").id
        db.session.commit()
    return message_id
