"""End to end with real processes: a burst over SMTP, two `python worker.py` classifying it."""

import re
import smtplib
import threading
import time

from sqlalchemy import func, select

from tests.mailmaker import raw_mail
from tests.sinks import free_port, start_worker, stop_worker, worker_env
from webapp.extensions import db
from webapp.models import Message, MessageRecipient, Thread

BURST = 60
CONNECTIONS = 4


def send_burst(host: str, port: int) -> list[int]:
    """BURST messages from Alice to Rita over CONNECTIONS clients at once; the ids in the 250s."""
    ids, errors = [], []

    def client(numbers):
        try:
            with smtplib.SMTP(host, port, timeout=60) as smtp:
                for i in numbers:
                    smtp.ehlo_or_helo_if_needed()
                    smtp.mail("alice@outside.test")
                    smtp.rcpt("rita@mail.demo.test")
                    code, text = smtp.data(
                        raw_mail(subject=f"Burst {i}", message_id=f"<burst-{i}@outside.test>")
                    )
                    assert code == 250, text
                    ids.append(int(text.split()[-1]))
        except Exception as exc:  # noqa: BLE001 - reported by the test, in its thread's stead
            errors.append(exc)

    threads = [
        threading.Thread(target=client, args=(range(c, BURST, CONNECTIONS),)) for c in range(CONNECTIONS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return ids


def test_two_workers_classify_a_burst_none_lost_none_twice(app, team, redis, redis_url):
    from webapp.metrics import counters_key
    from webapp.receiving.smtpd import InboundController

    env = worker_env(app, redis_url)
    workers = [start_worker(env, "classify"), start_worker(env, "classify")]
    listener = InboundController(app, "127.0.0.1", free_port())
    listener.start()
    try:
        ids = send_burst(listener.hostname, listener.port)
        deadline = time.time() + 120  # generous: CI machines are shared
        with app.app_context():
            while time.time() < deadline:
                left = db.session.scalar(select(func.count()).where(Message.outcome.is_(None)))
                db.session.remove()
                if not left:
                    break
                time.sleep(0.2)
    finally:
        listener.stop()
        logs = [stop_worker(w) for w in workers]
    with app.app_context():
        rows = db.session.execute(select(Message.id, Message.outcome, Message.thread_id)).all()
        recipients = db.session.execute(
            select(MessageRecipient.message_id, func.count()).group_by(MessageRecipient.message_id)
        ).all()
        empty_threads = db.session.scalar(
            select(func.count(Thread.id)).where(~Thread.messages.any())  # opened by a filing rolled back
        )
        counted = {
            k.decode(): int(v) for k, v in redis.hgetall(counters_key(app.config["RQ_QUEUE_PREFIX"])).items()
        }
    # Lost: none. Every DATA answered 250 has its row, and every row has its outcome.
    assert sorted(ids) == sorted(r.id for r in rows), logs
    assert [r.outcome for r in rows] == ["candidate"] * BURST, logs
    # Twice: none. One recipient row and one conversation each, no conversation left empty,
    # and the drains counted BURST classifications in all, between them.
    assert sorted(n for _, n in recipients) == [1] * BURST
    assert len({r.thread_id for r in rows}) == BURST
    assert empty_threads == 0
    assert sum(v for k, v in counted.items() if k.startswith("classified:")) == BURST, counted
    # Both workers drained: no job per message, and no classify job failed.
    drained = [sum(int(n) for n in re.findall(r"classify drain: (\d+) classified", log)) for log in logs]
    assert sum(drained) == BURST, logs
    assert "Traceback" not in "".join(logs)
