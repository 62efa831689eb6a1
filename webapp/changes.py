"""Change generations: counters in Redis that move whenever data a page shows may have changed.

A page kept in memory (webapp/page_cache.py) is served again only while these counters read
what they read when it was rendered. Two kinds:

- the team's generation, moved by any write to the data pages show (mail, conversations,
  candidates, offers, access, users, mailboxes, ...);
- a user's generation, moved by what changes one user's view only: their read state, and the
  folder entries and counters refreshed for them alone.

Every write goes through the ORM session, whose events note the tables a transaction touched
(objects flushed, and INSERT/UPDATE/DELETE statements run through it). The counters move twice:
at the transaction's first write, so a page rendered while it is open is never kept under the
counters that follow, and after its commit, so a page rendered from what it replaced is never
served again. A page can only be kept when the counters read the same before and after its
rendering. Where Redis cannot be reached, nothing is kept and nothing is served from memory.
"""

import logging
import secrets

from flask import current_app
from flask_sqlalchemy.session import Session
from redis import RedisError
from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.sql.dml import UpdateBase

log = logging.getLogger(__name__)

# Written for one user's view only, and touched explicitly by who writes them (readstate,
# entries): they move that user's generation, not the team's. The audit log shows on no page
# that is kept.
PER_USER_TABLES = frozenset({"message_reads", "folder_entries", "folder_counts"})
NOT_SHOWN_TABLES = frozenset({"audit_log"})
_SKIPPED = PER_USER_TABLES | NOT_SHOWN_TABLES
# A counter that Redis lost (a flush, an eviction) starts again from a random value, never
# from 0: a page kept under an old value can then never meet its value again by chance.
_START = 1 << 62

_PENDING = "changes_pending"  # session.info: the counters this transaction moves again at its commit


def team_key() -> str:
    return current_app.config["RQ_QUEUE_PREFIX"] + "hm:gen"


def user_key(user_id: int) -> str:
    return f"{current_app.config['RQ_QUEUE_PREFIX']}hm:gen:u:{user_id}"


def touch_team(session) -> None:
    """Note that this transaction changed what every user may be shown."""
    _note(session, team_key())


def touch_users(session, user_ids) -> None:
    """Note that this transaction changed what these users are shown (their view alone)."""
    for user_id in user_ids:
        _note(session, user_key(user_id))


def read(user_id: int, also: str | None = None) -> tuple[tuple[bytes, bytes] | None, bytes | None]:
    """The team's and the user's generations now (None when unknown or Redis is down), and the
    value of the key `also`, read in the same round trip."""
    from webapp.queues import get_redis

    keys = (team_key(), user_key(user_id))
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.mget(keys)
        pipe.get(also or keys[0])
        (team, user), value = pipe.execute()
        if team is None or user is None:  # never moved yet, or lost: start them
            _move(set(keys))
            team, user = get_redis().mget(keys)
    except RedisError:
        return None, None
    if team is None or user is None:
        return None, value
    return (team, user), value if also else None


def _note(session, key: str) -> None:
    pending = session.info.setdefault(_PENDING, set())
    if key in pending:
        return
    pending.add(key)
    _move({key})  # at its first write: a page rendered from here to the commit is never kept


def _move(keys: set[str]) -> None:
    """Move these counters on (one round trip), starting a lost one at a random value."""
    from webapp.queues import get_redis

    try:
        pipe = get_redis().pipeline(transaction=False)
        for key in sorted(keys):
            pipe.set(key, _START + secrets.randbits(40), nx=True)
            pipe.incr(key)
        pipe.execute()
    except RedisError as error:  # pages are then neither served from memory nor kept
        log.warning("change generations not moved: %s", error)


def _tables_of_flush(session) -> set[str]:
    tables = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = inspect(obj).mapper.local_table
        tables.add(getattr(table, "name", ""))
    return tables


@event.listens_for(Session, "before_flush")
def _before_flush(session, flush_context, instances) -> None:
    if _tables_of_flush(session) - _SKIPPED:
        touch_team(session)


# Execution options of a write that no page shows (what the listener stores: rows without a
# conversation, until classified, whose own write moves the counters): the counters stay.
_SHOWN_NOWHERE = "hiremail_shown_nowhere"
SHOWN_NOWHERE = {_SHOWN_NOWHERE: True}


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    statement = state.statement
    if state.execution_options.get(_SHOWN_NOWHERE):
        return
    if isinstance(statement, UpdateBase):
        table = getattr(statement, "table", None)
        if getattr(table, "name", None) not in _SKIPPED:
            touch_team(state.session)
    elif not state.is_select and _looks_like_a_write(statement):
        touch_team(state.session)


def _looks_like_a_write(statement) -> bool:
    """A textual statement that may write (the ORM cannot tell which tables): count it as one."""
    text = str(statement).lstrip().split(None, 1)
    return bool(text) and text[0].upper() in {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "ALTER", "DROP"}


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        _move(pending)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    # What was written is gone; the counters already moved at the first write, which is enough.
    session.info.pop(_PENDING, None)
