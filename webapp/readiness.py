"""Whether this deployment can do its work: database, Redis, mail leaving on time, workers alive.

/readyz reports it; it names no host, URL or secret, since anyone may ask.
"""

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, text

from webapp.extensions import db
from webapp.models import Direction, Message, Status
from webapp.models.types import utcnow
from webapp.queue_health import last_periodic_beat, live_workers
from webapp.queues import get_redis


@dataclass
class Readiness:
    """Each check's verdict ("ok" or "error: why"), and the figures behind them."""

    checks: dict[str, str] = field(default_factory=dict)
    oldest_due_s: int | None = None
    workers: dict[str, int] = field(default_factory=dict)

    @property
    def is_ready(self) -> bool:
        return all(verdict == "ok" for verdict in self.checks.values())

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.is_ready else "error",
            "checks": self.checks,
            "oldest_due_s": self.oldest_due_s,
            "workers": self.workers,
        }


def oldest_due_at(now: datetime) -> datetime | None:
    """When the message that has waited longest to leave fell due (queued or scheduled, now due)."""
    due_at = func.coalesce(Message.scheduled_at, Message.created_at)
    return db.session.scalar(
        select(func.min(due_at)).where(
            Message.direction == Direction.OUTBOUND,
            Message.status.in_((Status.QUEUED, Status.SCHEDULED)),
            due_at <= now,
        )
    )


def check() -> Readiness:
    """Run every check; each one that cannot run says so instead of raising."""
    found = Readiness()
    now = utcnow()
    try:
        db.session.execute(text("SELECT 1"))
        due_at = oldest_due_at(now)
        found.checks["database"] = "ok"
        found.oldest_due_s = int((now - due_at).total_seconds()) if due_at else 0
        limit = current_app.config["READY_MAX_DUE_AGE"]
        late = bool(limit) and found.oldest_due_s > limit
        waited = f"error: a message has waited {found.oldest_due_s} s to leave"
        found.checks["due_mail"] = waited if late else "ok"
    except Exception as exc:  # the point is to report it, not to crash
        db.session.rollback()
        found.checks["database"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
        found.checks["redis"] = "ok"
        found.workers = live_workers(now)
        idle = [name for name, count in found.workers.items() if not count]
        found.checks["workers"] = f"error: no worker seen for {', '.join(idle)}" if idle else "ok"
        # The sweep and the reconciler: a periodic process that died or hangs stops beating.
        silent = f"error: no periodic process seen in {3 * current_app.config['PERIODIC_INTERVAL']} s"
        found.checks["periodic"] = "ok" if last_periodic_beat() else silent
    except Exception as exc:
        found.checks["redis"] = f"error: {type(exc).__name__}"
    return found
