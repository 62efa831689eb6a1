"""The one classify drain that watches for new mail, as a lease in Redis.

While a drain holds the lease, arriving mail wakes no other drain (`wake_classifier` sees the
lease): the watcher looks again before it lets go. Without it every few arrivals woke one
more worker, and each drain claimed two messages of every few: three drains took 1.7 times
the CPU of one. A watcher that dies lets the lease lapse after WATCH_TTL_S; what arrived
meanwhile waits for the sweep.
"""

import logging
import time
import uuid

from redis import Redis

log = logging.getLogger(__name__)

# The lease lapses this long (seconds) after its last renewal: a drain renews it every
# message and every poll, at most every quarter of this.
WATCH_TTL_S = 2.0

# Take the lease, or renew it if it is ours: 1 if we hold it now.
_TAKE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# Let go of the lease if it is still ours (a lapsed one may be another drain's now).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisWatch:
    """pipeline.DrainWatch kept in Redis under `key`; Redis down counts as watching (the sweep catches up)."""

    def __init__(self, redis: Redis, key: str):
        self.redis, self.key = redis, key
        self.token = uuid.uuid4().hex
        self.renewed = float("-inf")

    def take(self) -> bool:
        """Become or stay the watcher; False if another drain watches."""
        try:
            held = bool(self.redis.eval(_TAKE, 1, self.key, self.token, int(WATCH_TTL_S * 1000)))
        except Exception:
            log.warning("could not take the classify watch", exc_info=True)
            return True
        self.renewed = time.monotonic() if held else float("-inf")
        return held

    def keep(self) -> None:
        """Renew the lease, if ours, once a quarter of its life has passed."""
        if self.renewed != float("-inf") and time.monotonic() - self.renewed >= WATCH_TTL_S / 4:
            self.take()

    def release(self) -> None:
        """Let go (if still ours): new mail wakes a drain again."""
        self.renewed = float("-inf")
        try:
            self.redis.eval(_RELEASE, 1, self.key, self.token)
        except Exception:
            log.warning("could not release the classify watch", exc_info=True)
