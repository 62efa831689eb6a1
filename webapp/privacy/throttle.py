"""A fixed-window rate limit in Redis, for pages served without login (shared CV links)."""

import logging

from flask import current_app

from webapp.queues import get_redis

log = logging.getLogger(__name__)


def allow(kind: str, who: str, limit: int, window_s: int = 60) -> bool:
    """Count one request of `who` for `kind`; False once more than `limit` came in the window.

    Redis down: allowed (and logged): the link's own checks still hold, only the limit lapses.
    """
    key = f"hiremail:{current_app.config['RQ_QUEUE_PREFIX']}rate:{kind}:{who}"
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, window_s, nx=True)
        count, _ = pipe.execute()
    except Exception:
        log.warning("rate limit %s not checked (Redis unreachable)", kind, exc_info=True)
        return True
    return int(count) <= limit
