"""Login throttling: failed sign-ins counted per account and per client address, in Redis.

An account (known or not: the answer must not tell which exist) is locked after
LOGIN_MAX_FAILURES_PER_ACCOUNT failures within LOGIN_THROTTLE_WINDOW_S, an address after
LOGIN_MAX_FAILURES_PER_ADDRESS; the count starts at the first failure and the lock lasts what
is left of the window. While locked, no password is checked, right or wrong. Redis down: the
login is not throttled (logged), since refusing every sign-in would be the worse outage.
"""

import hashlib
import logging
import math
from dataclasses import dataclass

from flask import current_app
from redis import RedisError

from webapp.queues import get_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lock:
    """Why sign-in is refused for now, and for how long."""

    scope: str  # "account" or "address"
    retry_after_s: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_s / 60))


def _keys(email: str, address: str | None) -> dict[str, str]:
    prefix = current_app.config["RQ_QUEUE_PREFIX"] + "login-failures:"
    # Hashed: the keys name no address a Redis dump could leak.
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    keys = {"account": prefix + "account:" + account}
    if address:
        keys["address"] = prefix + "address:" + hashlib.sha256(address.encode()).hexdigest()[:32]
    return keys


def _limits() -> dict[str, int]:
    config = current_app.config
    return {
        "account": config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        "address": config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
    }


def locked(email: str, address: str | None) -> Lock | None:
    """The lock on this account or address, if either has failed too often lately."""
    keys, limits = _keys(email, address), _limits()
    try:
        redis = get_redis()
        pipe = redis.pipeline()
        for key in keys.values():
            pipe.get(key)
            pipe.ttl(key)
        answers = pipe.execute()
    except RedisError:
        log.warning("login throttling unavailable: Redis did not answer")
        return None
    for i, scope in enumerate(keys):
        count, ttl = answers[2 * i], answers[2 * i + 1]
        if count is not None and int(count) >= limits[scope]:
            return Lock(scope, ttl if ttl and ttl > 0 else current_app.config["LOGIN_THROTTLE_WINDOW_S"])
    return None


def failed(email: str, address: str | None) -> None:
    """Count a failed sign-in against the account and the address."""
    window = current_app.config["LOGIN_THROTTLE_WINDOW_S"]
    try:
        pipe = get_redis().pipeline()
        for key in _keys(email, address).values():
            pipe.set(key, 0, ex=window, nx=True)  # the window starts at the first failure
            pipe.incr(key)  # keeps the expiry
        pipe.execute()
    except RedisError:
        log.warning("login throttling unavailable: Redis did not answer")


def succeeded(email: str) -> None:
    """Forget the account's failures (the address's stay: one right password opens no door for others)."""
    try:
        get_redis().delete(_keys(email, None)["account"])
    except RedisError:
        log.warning("login throttling unavailable: Redis did not answer")
