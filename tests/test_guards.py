"""The test run's own guards: settings never taken from the shell, no SMTP outside the run,
no Redis keys left behind."""

import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import forget_our_jobs, forget_our_keys
from tests.sinks import free_port, worker_env
from tests.smtp_guard import ForbiddenSmtpConnection
from webapp import config as settings

# What a developer's shell might hold: none of it may reach a test run.
REAL = {
    "SMTP_URL": "smtp://apikey:secret@smtp.real.example:587",
    "STORAGE_DIR": "/srv/hiremail/storage",
    "OUTBOX_DIR": "/srv/hiremail/outbox",
    "DATABASE_URL": "postgresql://hiremail@db.real.example/hiremail",
    "REDIS_URL": "redis://redis.real.example:6379/0",
    "INSTANCE_DIR": "/srv/hiremail/instance",
    "SECRET_KEY": "the-real-secret",
    "INBOUND_DOMAIN": "mail.real.example",
    "INBOUND_SECRET": "the-real-inbound-secret",
    "RQ_QUEUE_PREFIX": "production-",
    "COMPANY_NAME": "Real Company",
}


def test_the_test_config_takes_nothing_from_the_environment(tmp_path):
    config = settings.TestConfig(REAL, instance_dir=str(tmp_path)).as_dict()
    leaked = {k: v for k, v in config.items() if any(real in str(v) for real in REAL.values())}
    assert leaked == {}
    assert config["SMTP_URL"] is None  # no SMTP server: mail goes to the throwaway outbox
    assert config["STORAGE_DIR"] == str(tmp_path / "storage")
    assert config["OUTBOX_DIR"] == str(tmp_path / "outbox")
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/test.db"
    assert config["REDIS_URL"] is None  # the embedded Redis, in the instance folder
    assert config["INBOUND_DOMAIN"] == "mail.demo.test"
    assert config["RQ_QUEUE_PREFIX"].startswith("test-")


def test_the_test_config_takes_its_urls_from_test_variables(tmp_path):
    environ = {
        **REAL,
        "TEST_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/hm_x",
        "TEST_REDIS_URL": "redis://127.0.0.1:6379/15",
    }
    config = settings.TestConfig(environ, instance_dir=str(tmp_path)).as_dict()
    assert config["SQLALCHEMY_DATABASE_URI"] == environ["TEST_DATABASE_URL"]
    assert config["REDIS_URL"] == environ["TEST_REDIS_URL"]
    assert config["SMTP_URL"] is None
    assert config["STORAGE_DIR"] == str(tmp_path / "storage")


def test_without_an_instance_folder_the_test_config_makes_a_throwaway_one():
    config = settings.TestConfig(REAL)
    assert Path(config.INSTANCE_DIR).is_dir()
    assert "hiremail-test-" in config.INSTANCE_DIR


def test_a_worker_of_the_test_run_takes_the_apps_settings_not_the_shells(app, monkeypatch):
    for name, value in REAL.items():
        monkeypatch.setenv(name, value)
    env = worker_env(app, "redis://127.0.0.1:6379/15")
    assert {k: v for k, v in env.items() if v in REAL.values()} == {}
    assert env["SMTP_URL"] == ""
    assert env["OUTBOX_DIR"] == app.config["OUTBOX_DIR"]


# The SMTP guard


def test_an_smtp_connection_to_a_real_server_is_refused_and_fails_the_test(smtp_guard):
    with pytest.raises(ForbiddenSmtpConnection):
        smtplib.SMTP("smtp.real.example", 587)
    assert smtp_guard.refused == [("smtp.real.example", 587)]
    assert "smtp.real.example:587" in smtp_guard.report()
    smtp_guard.refused.clear()  # this test meant it: let it pass


def test_a_local_server_the_run_does_not_own_is_refused(smtp_guard):
    port = free_port()
    listen = f"import socket, time; s = socket.create_server(('127.0.0.1', {port})); time.sleep(30)"
    other_process = subprocess.Popen([sys.executable, "-c", listen])  # a local MTA, say
    try:
        _wait_for_listener(port)
        with pytest.raises(ForbiddenSmtpConnection):
            smtplib.SMTP("127.0.0.1", port, timeout=1)
    finally:
        other_process.kill()
        other_process.wait()
    assert smtp_guard.refused == [("127.0.0.1", port)]
    smtp_guard.refused.clear()


def _wait_for_listener(port: int, timeout: float = 5.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def test_the_app_sending_through_a_real_server_fails_the_test(app, team, smtp_guard):
    from webapp.mail.outbound.transport import SmtpTransport, TemporaryError

    # The transport takes the refusal for a dead server (a temporary error)...
    with pytest.raises(TemporaryError):
        SmtpTransport("smtp://smtp.real.example:587", timeout=1).send("a@b.test", ["c@d.test"], b"x")
    # ...but the guard has recorded it, and the test fails at teardown.
    assert smtp_guard.refused == [("smtp.real.example", 587)]
    smtp_guard.refused.clear()


def test_the_sink_and_a_port_nobody_listens_on_are_allowed(smtp, smtp_guard):
    with smtplib.SMTP("127.0.0.1", smtp.controller.port) as conn:
        conn.sendmail("a@b.test", ["c@d.test"], b"Subject: hi\r\n\r\nhello\r\n")
    assert len(smtp.wait_for(1)) == 1
    with pytest.raises(ConnectionRefusedError) as refused:
        smtplib.SMTP("127.0.0.1", 1)
    assert not isinstance(refused.value, ForbiddenSmtpConnection)  # the real refusal
    assert smtp_guard.refused == []


# Redis


def test_the_run_forgets_its_jobs_and_queues(app, redis):
    from webapp.queues import get_queue

    with app.app_context():
        job = get_queue("default").enqueue("webapp.jobs.periodic.run_due")
        assert redis.exists(f"rq:job:{job.id}")
        forget_our_keys(app, redis)
        forget_our_jobs(app, redis)
        prefix = app.config["RQ_QUEUE_PREFIX"].encode()
        assert not redis.exists(f"rq:job:{job.id}")
        assert [m for m in redis.smembers("rq:queues") if prefix in m] == []
        assert list(redis.scan_iter(match=f"*{app.config['RQ_QUEUE_PREFIX']}*")) == []
