"""Redis down while mail arrives over SMTP and the webhook: stored, then classified once it is back.

The processes use a redis-server of this test's own, stopped and started again: the shared
Redis is never touched.
"""

import hashlib
import hmac
import smtplib
import sys
import time
import urllib.request

from tests.faults.helpers import inbound_counts, kill_tree, port_open, start, unclassified, wait_until
from tests.mailmaker import raw_mail
from tests.sinks import free_port, start_worker, stop_worker, worker_env

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def send_smtp(port: int, i: int) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("alice@outside.test")
        smtp.rcpt("rita@mail.demo.test")
        code, text = smtp.data(raw_mail(subject=f"Over SMTP {i}", message_id=f"<smtp-{i}@outside.test>"))
    assert code == 250, text
    return int(text.split()[-1])


def send_webhook(port: int, secret: str, i: int) -> int:
    body = raw_mail(
        to="rita@mail.demo.test", subject=f"Over the webhook {i}", message_id=f"<hook-{i}@outside.test>"
    )
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/inbound/raw", data=body, headers={"X-Hiremail-Signature": signature}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        import json

        return json.loads(response.read())["id"]


def test_mail_arriving_while_redis_is_down_is_stored_and_classified_once_it_is_back(
    app, team, private_redis, smtp_guard
):
    env = worker_env(app, private_redis.url, PERIODIC_INTERVAL=1, INBOUND_SWEEP_MIN_AGE=1)
    smtp_port, web_port = free_port(), free_port()
    smtp_guard.own(smtp_port)  # the inbound listener this test starts as a process
    listener = start([*FLASK, "mail", "smtpd", "--port", str(smtp_port)], env)
    web = start([*FLASK, "run", "--port", str(web_port), "--no-reload"], env)
    worker = start_worker(env)
    try:
        assert wait_until(lambda: port_open(smtp_port) and port_open(web_port), 30), "servers did not start"
        private_redis.stop()
        ids = [send_smtp(smtp_port, i) for i in range(3)]
        ids += [send_webhook(web_port, app.config["INBOUND_SECRET"], i) for i in range(2)]
        time.sleep(1)
        assert unclassified(app) == 5  # stored (answered 250 / 202), waiting for Redis
        private_redis.start()  # back, empty: every queued job is gone with it
        back_at = time.monotonic()
        done = wait_until(lambda: unclassified(app) == 0, 50)
        recovered = time.monotonic() - back_at
    finally:
        kill_tree(listener)
        kill_tree(web)
        log = stop_worker(worker, timeout=30)
    assert done, log
    found = inbound_counts(app)
    assert sorted(r.id for r in found["rows"]) == sorted(ids)
    assert [r.outcome for r in found["rows"]] == ["candidate"] * 5
    assert sorted(found["recipients"].values()) == [1] * 5  # classified once each
    print(f"\nRedis down: 5 stored, lost 0, classified {recovered:.1f} s after Redis came back")
