"""The status vocabulary: enums in the models, enforced by the database."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import (
    AUTHOR_ONLY_STATUSES,
    DELIVERED_STATUSES,
    PENDING_STATUSES,
    Direction,
    Message,
    Outcome,
    Status,
)


def _insert(**values) -> None:
    row = {"direction": "inbound", "status": "received", "outcome": None, "delivery_state": None} | values
    db.session.execute(
        text(
            "INSERT INTO messages (direction, status, outcome, delivery_state, from_address, from_name, "
            "to_addresses, cc_addresses, bcc_addresses, subject, snippet, body_text, raw_size, "
            "has_attachments, is_internal, is_auto_reply, is_cv, envelope_to, classify_requeues, defects, "
            "send_attempts, created_at, sort_at) VALUES (:direction, :status, :outcome, :delivery_state, "
            "'', '', '[]', '[]', '[]', '', '', '', 0, false, false, false, false, '[]', 0, '[]', 0, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        row,
    )


@pytest.mark.parametrize(
    "bad",
    [{"status": "delivered"}, {"direction": "sideways"}, {"outcome": "spam"}, {"delivery_state": "lost"}],
)
def test_the_database_refuses_a_word_outside_the_vocabulary(app, bad):
    with app.app_context():
        with pytest.raises(IntegrityError):
            _insert(**bad)
        db.session.rollback()


def test_the_database_refuses_an_update_to_a_word_outside_the_vocabulary(app):
    with app.app_context():
        _insert(outcome=Outcome.CANDIDATE.value)
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text("UPDATE messages SET status = 'lost'"))
        db.session.rollback()
        db.session.execute(text("UPDATE messages SET status = 'quarantined', outcome = 'quarantined'"))
        db.session.commit()


def test_every_word_of_the_vocabulary_is_accepted(app):
    with app.app_context():
        for status in Status:
            _insert(status=status.value)
        for outcome in Outcome:
            _insert(outcome=outcome.value)
        _insert(direction=Direction.OUTBOUND.value, status=Status.SENT.value, delivery_state="delayed")
        db.session.commit()
        assert db.session.query(Message).count() == len(Status) + len(Outcome) + 1


def test_the_status_groups_do_not_contradict_each_other():
    assert set(PENDING_STATUSES) <= set(AUTHOR_ONLY_STATUSES)
    assert not set(DELIVERED_STATUSES) & set(AUTHOR_ONLY_STATUSES)
    assert Status.CANCELLED not in {*DELIVERED_STATUSES, *AUTHOR_ONLY_STATUSES}


def test_vocabulary_migration_goes_down_and_up(app):
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        try:
            downgrade(revision="a7c3e5f1b2d4")
            db.engine.dispose()
            _insert(status="lost")  # no check any more
            db.session.commit()
            db.session.execute(text("DELETE FROM messages"))
            _insert(outcome="classifying")  # a claim left by a worker of an earlier version
            db.session.commit()
        finally:
            db.session.rollback()
            upgrade()
            db.engine.dispose()
        # The claim is released (the sweep classifies the message again), not refused.
        assert db.session.scalar(text("SELECT count(*) FROM messages WHERE outcome IS NULL")) == 1
        with pytest.raises(IntegrityError):
            _insert(status="lost")
        db.session.rollback()
