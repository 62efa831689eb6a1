"""Many rows in one INSERT (models.core.RowsInsert): on PostgreSQL over arrays, elsewhere executemany."""

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Direction, Message, MessageRecipient, Status
from webapp.receiving.receive import Arrival, receive_many


def test_a_batch_gets_each_message_its_own_id_in_the_order_it_came(app):
    """The listener answers each DATA with its message's id: the ids must follow the batch."""
    # The same bytes several times: one blob, forty rows.
    raws = [f"Subject: {i % 7}\r\n\r\nbody {i % 7}\r\n".encode() for i in range(40)]
    arrivals = [Arrival(raw, "smtp", f"s{i}@x.test", [f"R{i}@Y.test"]) for i, raw in enumerate(raws)]
    with app.app_context():
        ids = receive_many(arrivals)
        assert len(set(ids)) == 40
        rows = {m.id: m for m in db.session.scalars(select(Message).where(Message.id.in_(ids)))}
        for i, message_id in enumerate(ids):
            m = rows[message_id]
            assert (m.envelope_from, m.envelope_to) == (f"s{i}@x.test", [f"r{i}@y.test"])
            assert m.raw_size == len(arrivals[i].raw)
            # The model's own defaults, as an ORM insert gives them.
            assert (m.direction, m.status, m.outcome) == (Direction.INBOUND, Status.RECEIVED, None)
            assert (m.from_address, m.subject, m.to_addresses, m.defects) == ("", "", [], [])
            assert (m.is_cv, m.has_attachments, m.classify_requeues) == (False, False, 0)


def test_rows_insert_writes_every_row_once(app, make_team):
    team = make_team(users={"Ada Admin": "admin", "Rita Recruiter": [], "Sam Recruiter": []})
    with app.app_context():
        [message_id] = receive_many([Arrival(b"Subject: x\r\n\r\nx\r\n", "smtp")])
        from webapp.mail.inbound.filing import _ADD_RECIPIENTS

        users = [team.ada.id, team.rita.id, team.sam.id]
        assert _ADD_RECIPIENTS([{"message_id": message_id, "user_id": u} for u in users]) == []
        assert _ADD_RECIPIENTS([]) == []
        written = db.session.scalars(
            select(MessageRecipient.user_id).where(MessageRecipient.message_id == message_id)
        )
        assert sorted(written) == sorted(users)
