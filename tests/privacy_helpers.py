"""What the data protection tests share: real mail in and out, and searches for a person's traces."""

import base64
import zlib
from pathlib import Path

from sqlalchemy import inspect, text

from webapp.extensions import db
from webapp.jobs.classify import classify_job
from webapp.jobs.send import send_due_job
from webapp.mail.outbound import compose
from webapp.mail.outbound.build import OutgoingFile
from webapp.mail.outbound.compose import Compose
from webapp.models import Message, User
from webapp.receiving.receive import receive as store_and_queue
from webapp.services import blob_store, mail_domain


def receive(app, raw: bytes) -> int:
    """Store like an entry point does (the classify job queued), then classify inline."""
    with app.test_request_context():
        message_id = store_and_queue(raw, "test")
        classify_job(message_id)
    return message_id


def send(
    app, user, to: str, subject: str, body: str, attachment: tuple[str, bytes] | None = None, **kw
) -> int:
    """Compose as the user (now, or at `send_at`) and run the drain as a worker would."""
    files = [OutgoingFile(attachment[0], "application/pdf", attachment[1])] if attachment else []
    with app.test_request_context():
        msg = compose.create(
            db.session.get(User, user.id),
            Compose(to=[to], subject=subject, body=body, attachments=files, **kw),
            mail_domain(),
            blob_store(),
        )
        db.session.commit()
        message_id = msg.id
        if kw.get("send_at") is None:
            send_due_job()
    return message_id


def row(app, message_id: int) -> Message | None:
    with app.app_context():
        msg = db.session.get(Message, message_id)
        if msg is not None:
            db.session.expunge(msg)
        return msg


def database_traces(app, needles: list[str]) -> list[str]:
    """Every (table, value) in any column of any table, FTS tables included, naming a needle."""
    found = []
    lowered = [n.lower() for n in needles]
    with app.app_context(), db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for values in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in values:
                    as_text = value.decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
                    if any(n in as_text.lower() for n in lowered):
                        found.append(f"{table}: {as_text[:80]}")
    return found


def storage_traces(app, needles: list[str]) -> list[str]:
    """Files in the blob store whose bytes contain a needle."""
    root = Path(app.config["STORAGE_DIR"])
    wanted = [n.lower().encode() for n in needles]
    return [
        str(p) for p in root.rglob("*") if p.is_file() and any(w in p.read_bytes().lower() for w in wanted)
    ]


def redis_traces(redis, needles: list[str]) -> list[str]:
    """Redis keys whose name or value (RQ's compressed fields unpacked) contain a needle."""
    wanted = [n.lower().encode() for n in needles]
    found = []
    for key in redis.scan_iter(count=1000):
        kind = redis.type(key)
        values: list[bytes] = [key]
        if kind == b"string":
            values.append(redis.get(key) or b"")
        elif kind == b"hash":
            values += [v for pair in redis.hgetall(key).items() for v in pair]
        elif kind == b"list":
            values += redis.lrange(key, 0, -1)
        elif kind == b"set":
            values += list(redis.smembers(key))
        elif kind == b"zset":
            values += redis.zrange(key, 0, -1)
        elif kind == b"stream":
            values += [v for _id, fields in redis.xrange(key) for pair in fields.items() for v in pair]
        for value in values:
            for candidate in (value, _unzipped(value)):
                if any(w in candidate.lower() for w in wanted):
                    found.append(key.decode(errors="replace"))
    return found


def _unzipped(value: bytes) -> bytes:
    """RQ keeps job data zlib-compressed, and results as base64 of that."""
    for data in (value, _unbased(value)):
        try:
            return zlib.decompress(data)
        except zlib.error:
            continue
    return b""


def _unbased(value: bytes) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return b""
