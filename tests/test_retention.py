"""Retention: an admin sets a period after a dry-run count; the worker erases what is older."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from tests.dom import parse
from tests.mailmaker import raw_mail
from tests.privacy_helpers import receive, row
from webapp.extensions import db
from webapp.jobs.retention import queue_retention, retention_job
from webapp.models import AuditLog, Message, Placement, Setting, Thread
from webapp.privacy import retention
from webapp.queues import get_queue
from webapp.services import blob_store

OLD = datetime(2024, 1, 10, 9, tzinfo=UTC)
NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend"},
        users={"Rita Recruiter": ["job"], "Ada Admin": "admin"},
        candidates={"Alice Able": ["job"], "Rob Rejected": ["job"]},
    )


def backdate(app, message_id: int) -> None:
    with app.app_context():
        msg = db.session.get(Message, message_id)
        msg.sort_at = msg.received_at = OLD
        db.session.execute(update(Thread).where(Thread.id == msg.thread_id).values(last_message_at=OLD))
        db.session.commit()


@pytest.fixture
def mail(app, make, team):
    """Old mail of every kind, and new mail, by name: message ids."""
    with app.app_context():
        db.session.execute(
            update(Placement).where(Placement.candidate_id == team.rob.id).values(stage="rejected")
        )
        db.session.commit()
    ids = {
        "stranger": receive(app, raw_mail(frm="Spam Co <offers@spam.test>", subject="Old offer")),
        "rejected": receive(app, raw_mail(frm="Rob <rob@outside.test>", subject="Old application")),
        "candidate": receive(app, raw_mail(subject="Old but Alice is in the running")),
        "new_stranger": receive(app, raw_mail(frm="News <news@letter.test>", subject="This week")),
    }
    for name in ("stranger", "rejected", "candidate"):
        backdate(app, ids[name])
    team_note = make.message(
        direction="outbound", sender=team.rita, to_addresses=["ada@team.test"], is_internal=True, at=OLD
    )
    ids["internal"] = team_note.id
    return ids


def test_the_cutoff_is_in_calendar_months():
    assert retention.cutoff(12, NOW) == datetime(2025, 12, 6, 9, tzinfo=UTC)
    assert retention.cutoff(1, datetime(2026, 3, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert retention.cutoff(3, datetime(2026, 2, 15, tzinfo=UTC)) == datetime(2025, 11, 15, tzinfo=UTC)


def test_admin_sees_the_count_before_saving_then_the_worker_erases(app, client, auth, team, mail, redis):
    with app.app_context():
        stranger_blob = db.session.get(Message, mail["stranger"]).raw_sha256
    auth.login(team.ada.email)
    token = auth.csrf_token("/admin/retention")
    dry = client.post("/admin/retention", data={"csrf_token": token, "months": "12"})
    assert dry.status_code == 200
    notice = parse(dry.get_data(as_text=True)).one("div", id="dry-run").text
    assert "the next run erases 2 messages in 2 conversations" in notice
    with app.app_context():
        assert retention.months() is None  # nothing saved yet
        assert db.session.get(Setting, "retention") is None
    saved = client.post("/admin/retention", data={"csrf_token": token, "months": "12", "confirm": "1"})
    assert saved.status_code == 303
    page = client.get("/admin/retention").get_data(as_text=True)
    assert "Now: 12 months." in page

    with app.app_context():
        assert retention_job() == 2
    for gone in ("stranger", "rejected"):
        assert row(app, mail[gone]) is None, gone
    for kept in ("candidate", "new_stranger", "internal"):
        assert row(app, mail[kept]) is not None, kept
    with app.app_context():
        assert not blob_store().exists(stranger_blob)
        assert retention_job() == 0  # a second run finds nothing
        logs = [
            (a.action, a.details)
            for a in db.session.scalars(select(AuditLog).where(AuditLog.action.like("retention%")))
        ]
    assert logs == [
        ("retention_changed", {"before": None, "months": 12}),
        ("retention_erased", {"months": 12, "messages": 2, "conversations": 2}),
    ]


def test_off_by_default_and_bad_values_refused(app, client, auth, team, mail):
    with app.app_context():
        assert retention_job() == 0
    auth.login(team.ada.email)
    assert "Now: off" in client.get("/admin/retention").get_data(as_text=True)
    token = auth.csrf_token("/admin/retention")
    assert client.post("/admin/retention", data={"csrf_token": token, "months": "-3"}).status_code == 422
    assert client.post("/admin/retention", data={"csrf_token": token, "months": "9999"}).status_code == 422
    auth.logout()
    auth.login(team.rita.email)
    assert client.get("/admin/retention").status_code == 404


def test_the_periodic_duty_queues_the_job_once(app, redis):
    with app.app_context():
        assert queue_retention() is True
        assert queue_retention() is False
        assert [j.func_name for j in get_queue("default").jobs] == ["webapp.jobs.retention.retention_job"]
