"""Prometheus metrics: request latency in the web processes, the rest read from Redis at scrape time.

The latency histogram lives in each web process (merged across gunicorn's workers through
PROMETHEUS_MULTIPROC_DIR when it is set). What the workers do happens in RQ's forked
work-horses, which die after each job and serve no /metrics: so jobs add to counters in
Redis (`count_classified`, `count_sent`), and /metrics reads them, the queue depths and the
workers from Redis, wherever the workers run.
"""

import hmac
import ipaddress
import logging
import time

from flask import Flask, current_app, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis import Redis

from webapp.queue_health import queue_states
from webapp.queues import get_redis

log = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram(
    "hiremail_request_duration_seconds",
    "Time to answer a request, by Flask endpoint and method.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
)


def counters_key(prefix: str) -> str:
    """The Redis hash of the job counters (one per deployment: RQ_QUEUE_PREFIX)."""
    return f"hiremail:{prefix}metrics"


def count_classified(redis: Redis, prefix: str, outcome: str, count: int = 1) -> None:
    """Count messages classified with `outcome` (a metric lost is better than a job failed)."""
    try:
        redis.hincrby(counters_key(prefix), f"classified:{outcome}", count)
    except Exception:
        log.warning("metrics: could not count a classified message", exc_info=True)


def count_sent(redis: Redis, prefix: str, sent: int, failed: int) -> None:
    """Count the messages a drain handed over, and those it failed for good."""
    try:
        with redis.pipeline() as pipe:
            pipe.hincrby(counters_key(prefix), "sent", sent)
            pipe.hincrby(counters_key(prefix), "send_failed", failed)
            pipe.execute()
    except Exception:  # the mail left (or failed) all the same: only the count is lost
        log.warning("metrics: could not count %d sent, %d failed", sent, failed, exc_info=True)


class AppCollector:
    """Queue depths, live workers and the job counters, read from Redis when scraped."""

    def collect(self):
        """Yield the metric families (nothing, plus a scrape error, when Redis does not answer)."""
        errors = GaugeMetricFamily(
            "hiremail_scrape_error", "1 when a part of the metrics could not be read.", labels=["part"]
        )
        try:
            yield from self._queues()
            yield from self._counters()
            errors.add_metric(["redis"], 0)
        except Exception:  # a scrape must still answer, with the latency it has
            log.warning("metrics: Redis unreadable", exc_info=True)
            errors.add_metric(["redis"], 1)
        yield errors

    def _queues(self):
        jobs = GaugeMetricFamily("hiremail_queue_jobs", "Jobs by queue and state.", labels=["queue", "state"])
        workers = GaugeMetricFamily(
            "hiremail_queue_workers", "Workers seen recently, by queue served.", labels=["queue"]
        )
        for state in queue_states():
            for name in ("queued", "scheduled", "started", "failed"):
                jobs.add_metric([state.name, name], getattr(state, name))
            workers.add_metric([state.name], len(state.workers))
        yield jobs
        yield workers

    def _counters(self):
        raw = get_redis().hgetall(counters_key(current_app.config["RQ_QUEUE_PREFIX"]))
        values = {_text(key): int(value) for key, value in raw.items()}
        classified = CounterMetricFamily(
            "hiremail_messages_classified", "Inbound messages classified, by outcome.", labels=["outcome"]
        )
        for key, value in sorted(values.items()):
            if key.startswith("classified:"):
                classified.add_metric([key.split(":", 1)[1]], value)
        yield classified
        yield CounterMetricFamily(
            "hiremail_messages_sent", "Messages handed to the SMTP server.", value=values.get("sent", 0)
        )
        yield CounterMetricFamily(
            "hiremail_send_failures", "Messages that failed for good.", value=values.get("send_failed", 0)
        )


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key


def render() -> bytes:
    """The exposition text: this process's (or every web process's) metrics, then the app's."""
    app_registry = CollectorRegistry()
    app_registry.register(AppCollector())
    if current_app.config["PROMETHEUS_MULTIPROC_DIR"]:
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return generate_latest(merged) + generate_latest(app_registry)
    return generate_latest(REGISTRY) + generate_latest(app_registry)


def may_read_metrics() -> bool:
    """A scraper with the bearer token, or a request from this host that no proxy forwarded."""
    token = current_app.config["METRICS_TOKEN"]
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    # Through a proxy on this host every request comes from loopback: those carry X-Forwarded-For.
    return _is_loopback(request.remote_addr) and "X-Forwarded-For" not in request.headers


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:  # a unix socket's peer has no IP address
        return False


def init_app(app: Flask) -> None:
    """Time every request into the latency histogram."""

    @app.before_request
    def start_timer():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def observe_latency(response):
        if "metrics_started" in g:
            REQUEST_LATENCY.labels(request.endpoint or "unmatched", request.method).observe(
                time.perf_counter() - g.metrics_started
            )
        return response
