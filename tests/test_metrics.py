"""/metrics: Prometheus text for a scraper with the token or on this host; 404 for anyone else."""

import os
import subprocess
import sys

import pytest

from tests.mailmaker import raw_mail
from tests.test_health import dead_redis
from webapp.config import ROOT
from webapp.extensions import db
from webapp.jobs.classify import classify_job
from webapp.jobs.send import send_due_job
from webapp.mail.inbound.pipeline import store_inbound
from webapp.mail.outbound import compose
from webapp.mail.outbound.compose import Compose
from webapp.metrics import count_sent
from webapp.models import User
from webapp.queues import get_queue
from webapp.services import blob_store, mail_domain

ELSEWHERE = {"REMOTE_ADDR": "10.1.2.3"}


@pytest.fixture
def token(app):
    app.config["METRICS_TOKEN"] = "scrape-me"
    yield "scrape-me"
    app.config["METRICS_TOKEN"] = None


def scrape(client, **kw) -> str:
    response = client.get("/metrics", **kw)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_metrics_from_this_host_need_no_token(client, redis):
    assert "hiremail_queue_jobs" in scrape(client)


def test_metrics_are_hidden_from_other_addresses(client, redis):
    assert client.get("/metrics", environ_base=ELSEWHERE).status_code == 404


def test_a_request_a_proxy_forwarded_is_not_from_this_host(client, redis):
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404


def test_the_token_opens_metrics_from_anywhere(client, redis, token):
    scrape(client, environ_base=ELSEWHERE, headers={"Authorization": f"Bearer {token}"})
    wrong = client.get("/metrics", environ_base=ELSEWHERE, headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 404


def test_request_latency_by_endpoint(client, redis):
    client.get("/healthz")
    text = scrape(client)
    assert 'hiremail_request_duration_seconds_bucket{endpoint="main.healthz",le="0.005",method="GET"}' in text
    assert 'hiremail_request_duration_seconds_count{endpoint="main.healthz",method="GET"}' in text


def test_queue_depths_and_workers(app, client, redis):
    with app.app_context():
        get_queue("classify").enqueue("webapp.jobs.classify.classify_job", 0)
    text = scrape(client)
    assert 'hiremail_queue_jobs{queue="classify",state="queued"} 1.0' in text
    assert 'hiremail_queue_jobs{queue="send",state="queued"} 0.0' in text
    assert 'hiremail_queue_workers{queue="default"} 0.0' in text
    assert 'hiremail_scrape_error{part="redis"} 0.0' in text


def test_classified_sent_and_failed_counts_come_from_the_jobs(app, client, redis, team, smtp):
    with app.app_context():
        message_id = store_inbound(raw_mail(), store=blob_store(), source="smtp").id
        db.session.commit()
        assert classify_job(message_id) == "candidate"
        smtp.handler.refuse["bob@outside.test"] = "550 5.1.1 No such user"
        rita = db.session.get(User, team.rita.id)
        for to in ("alice@outside.test", "bob@outside.test"):
            compose.create(rita, Compose(to=[to], subject="Hi", body="Hello"), mail_domain(), blob_store())
        db.session.commit()
        assert send_due_job() == 1
    text = scrape(client)
    assert 'hiremail_messages_classified_total{outcome="candidate"} 1.0' in text
    assert "hiremail_messages_sent_total 1.0" in text
    assert "hiremail_send_failures_total 1.0" in text


def test_counts_add_up_across_processes_through_redis(app, client, redis):
    prefix = app.config["RQ_QUEUE_PREFIX"]
    count_sent(redis, prefix, sent=3, failed=0)
    count_sent(redis, prefix, sent=2, failed=1)
    text = scrape(client)
    assert "hiremail_messages_sent_total 5.0" in text
    assert "hiremail_send_failures_total 1.0" in text


def test_a_dead_redis_still_gives_the_latency(app, client):
    with dead_redis(app):
        text = scrape(client)
    assert 'hiremail_scrape_error{part="redis"} 1.0' in text
    assert "hiremail_request_duration_seconds" in text


GUNICORN_WORKER = """
import sys
from webapp import create_app
from webapp.config import TestConfig

config = TestConfig({"TEST_REDIS_URL": sys.argv[2]}, instance_dir=sys.argv[1])
config.PROMETHEUS_MULTIPROC_DIR = sys.argv[3]
client = create_app(config).test_client()
client.get("/healthz")
if sys.argv[4] == "scrape":
    print(client.get("/metrics").get_data(as_text=True))
"""


def test_multiprocess_mode_adds_up_every_web_process(app, tmp_path, redis_url):
    """As under gunicorn: each process writes its own files; /metrics in any one reads them all."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", GUNICORN_WORKER, str(tmp_path), redis_url, str(metrics_dir), then],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for then in ("exit", "exit", "scrape")
    ]
    assert 'hiremail_request_duration_seconds_count{endpoint="main.healthz",method="GET"} 3.0' in outputs[-1]
    assert "hiremail_queue_jobs" in outputs[-1]
