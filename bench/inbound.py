#!/usr/bin/env python
"""Inbound classification throughput, against the floor of parsing the same bytes (docs/benchmarks.md).

A database holding a mailbox history (100,000 messages; --quick: 10,000) receives a corpus of
new raw mail (10,000; --quick: 1,000), stored first with `store_inbound` as an entry point
would (not timed). Then, chunk by chunk, the benchmark times
  floor: `email.message_from_bytes(raw, policy=email.policy.default)` over the chunk's bytes;
  value: `classify_stored` over the chunk's stored messages, as the classify job calls it
         (then `db.session.remove()`, as the job wrapper does; RQ's fork is not measured).
Interleaving the two keeps drift on a shared machine out of the ratio. The database default is
SQLite in a temporary folder, with the app's own settings; --database-url takes PostgreSQL.

Memory: RSS is what the operator pays for, so the figure is the process's peak RSS (VmHWM)
while classifying, reset with /proc/self/clear_refs before each chunk so the floor's parsing
is not counted, minus the RSS after setup (the baseline: app, corpus, caches). The bound is
4x the largest message. A tracemalloc figure for classifying the largest message alone (Python
allocations only, without allocator slack) is printed beside it.

The last line is the JSON object of the benchmark convention; memory figures are extra keys.

--e2e measures the whole path instead, SMTP to classified row through `make run`'s own
processes, and the listener against a bare aiosmtpd sink: bench/inbound_e2e.py.
"""

import argparse
import contextlib
import cProfile
import ctypes
import email
import email.policy
import gc
import json
import os
import platform
import pstats
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, or_, select, text, update  # noqa: E402

from bench.datagen import DOMAIN, new_mail, populate  # noqa: E402
from bench.inbound_e2e import add_arguments, run_e2e, servers_cpu  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import Config  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.mail.domain import MailDomain  # noqa: E402
from webapp.mail.inbound.pipeline import (  # noqa: E402
    classify_stored,
    drain_unclassified,
    release_claims,
    store_inbound,
)
from webapp.mail.storage import BlobStore  # noqa: E402
from webapp.models import Message, MessageRecipient, Thread  # noqa: E402
from webapp.models.types import utcnow  # noqa: E402

NAME = "inbound"
GOAL = 0.5
SECRET = "bench-secret"
MB = 1024 * 1024


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument("--existing", type=int, help="messages already in the database")
    parser.add_argument("--new", type=int, help="new raw messages to classify (plus two big ones)")
    parser.add_argument("--candidates", type=int, help="candidates in the database")
    parser.add_argument("--seed", type=int, default=1105)
    parser.add_argument("--chunk", type=int, default=250, help="messages per floor/classify interleave")
    parser.add_argument(
        "--database-url",
        help="default: SQLite in a temporary folder (a PostgreSQL "
        "database given here has its schema dropped and rebuilt)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the classification into FILE")
    parser.add_argument(
        "--drain",
        action="store_true",
        help="classify each chunk with the worker's drain (claims, group commits) instead of "
        "classify_stored one message at a time",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.existing = args.existing or (10_000 if args.quick else 100_000)
    args.new = args.new or (1_000 if args.quick else 10_000)
    args.candidates = args.candidates or (2_000 if args.quick else 20_000)
    return args


class PeakRSS:
    """Peak resident memory over a stretch of code: VmHWM after a reset, else a sampling thread."""

    def __init__(self):
        self.can_reset = self._reset()
        self.peak_kb = 0
        self._sampling = False

    @staticmethod
    def status_kb(name: str) -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
        return 0

    @classmethod
    def _reset(cls) -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            return False
        return cls.status_kb("VmHWM") <= cls.status_kb("VmRSS") + 64

    def __enter__(self):
        if self.can_reset:
            self._reset()
        else:  # no resettable high-water mark: sample every millisecond instead
            self._sampling = True
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while self._sampling:
            self.peak_kb = max(self.peak_kb, self.status_kb("VmRSS"))
            time.sleep(0.001)

    def __exit__(self, *exc):
        if self.can_reset:
            self.peak_kb = max(self.peak_kb, self.status_kb("VmHWM"))
        else:
            self._sampling = False
            self._thread.join()


def trim_heap() -> None:
    """Hand freed memory back to the OS, so what the floor's parsing freed is not counted."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the figure errs high
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def build_app(args, tmp: Path):
    env = {
        "INSTANCE_DIR": str(tmp),
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        "STORAGE_DIR": str(tmp / "storage"),
        "SECRET_KEY": SECRET,
        "INBOUND_DOMAIN": DOMAIN,
    }
    return create_app(Config(env))


def migrate_fresh() -> None:
    """The schema from the migrations, dropping whatever a previous run left (as tests do)."""
    from flask_migrate import upgrade

    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()


def fingerprint(first_id: int) -> str:
    """A hash of everything classification wrote for the new mail, to compare code changes."""
    import hashlib

    digest = hashlib.sha256()
    new = select(Message).where(Message.id >= first_id).order_by(Message.id)
    for m in db.session.scalars(new):
        fields = (
            m.id,
            m.outcome,
            m.outcome_reason,
            m.status,
            m.thread_id,
            m.candidate_id,
            m.sender_id,
            m.is_internal,
            m.is_auto_reply,
            m.is_cv,
            m.cv_offer_id,
            m.bounced_message_id,
            m.message_id,
            m.in_reply_to,
            m.references,
            m.from_address,
            m.from_name,
            m.to_addresses,
            m.cc_addresses,
            m.subject,
            m.snippet,
            m.body_text,
            m.body_html,
            m.has_attachments,
            m.defects,
            [
                (a.filename, a.content_type, a.size, a.sha256, a.is_inline, a.content_id)
                for a in sorted(m.attachments, key=lambda a: a.id)
            ],
        )
        digest.update(repr(fields).encode())
    for row in db.session.execute(
        select(MessageRecipient.message_id, MessageRecipient.user_id).order_by(
            MessageRecipient.message_id, MessageRecipient.user_id
        )
    ):
        digest.update(repr(tuple(row)).encode())
    threads = select(
        Thread.id,
        Thread.subject,
        Thread.candidate_id,
        Thread.offer_id,
        Thread.is_archived,
        Thread.archived_at,
        Thread.archived_by_id,
        Thread.last_message_at,
    )
    # New mail's times are the clock's: a conversation's activity time is named by its message.
    at_message = dict(
        db.session.execute(select(Message.sort_at, Message.id).where(Message.id >= first_id)).all()
    )
    for row in db.session.execute(threads.order_by(Thread.id)):
        digest.update(repr((*row[:-1], at_message.get(row[-1], row[-1]))).encode())
    if db.engine.dialect.name == "sqlite":  # the search index (on PostgreSQL an expression of the row)
        fts = text(
            "SELECT rowid, subject, body, people FROM message_fts WHERE rowid >= :first ORDER BY rowid"
        )
        for row in db.session.execute(fts, {"first": first_id}):
            digest.update(repr(tuple(row)).encode())
    for row in db.session.execute(
        select(Message.id, Message.status, Message.delivery_state, Message.error)
        .where(Message.delivery_state.is_not(None))
        .order_by(Message.id)
    ):
        digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()[:16]


def largest_message_allocations(raw: bytes, settings, store) -> tuple[int, int]:
    """tracemalloc peaks (bytes) of parsing, then of classifying, a fresh copy of `raw`."""
    raw = raw.replace(b"Message-ID: <", b"Message-ID: <again.", 1)  # not a duplicate of itself
    gc.collect()
    tracemalloc.start()
    email.message_from_bytes(raw, policy=email.policy.default)
    parse_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    message_id = store_inbound(raw, store=store, source="smtp").id
    db.session.commit()
    del raw
    gc.collect()
    tracemalloc.start()
    classify_stored(message_id, settings=settings, store=store)
    db.session.remove()
    classify_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return parse_peak, classify_peak


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.e2e:
        return run_e2e(args)
    tmp = Path(tempfile.mkdtemp(prefix="hiremail-bench-"))
    try:
        return run(args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)  # stdout's last line stays the JSON
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path) -> int:
    app = build_app(args, tmp)
    settings = MailDomain(domain=DOMAIN, secret=SECRET)
    store = BlobStore(tmp / "storage")
    with app.app_context():
        dialect = db.engine.dialect.name
        started = time.perf_counter()
        migrate_fresh()
        with db.engine.begin() as conn:
            world = populate(
                conn,
                n_messages=args.existing,
                n_candidates=args.candidates,
                seed=args.seed,
                domain=DOMAIN,
                secret=SECRET,
            )
        with db.engine.begin() as conn:  # statistics, as a database in use has them (see inbound_e2e)
            conn.execute(text("ANALYZE"))
        print(f"database ({dialect}): {world.counts} in {time.perf_counter() - started:.1f}s")

        started = time.perf_counter()
        corpus = new_mail(world, args.new, seed=args.seed + 1)
        sizes = [len(m.raw) for m in corpus]
        ranked = sorted(sizes)
        print(
            f"corpus: {len(corpus)} messages, {sum(sizes) / MB:.1f} MB; bytes: median "
            f"{ranked[len(ranked) // 2]}, "
            f"mean {sum(sizes) // len(sizes)}, p90 {ranked[len(ranked) * 9 // 10]}, largest {ranked[-1]}; "
            f"built in {time.perf_counter() - started:.1f}s"
        )

        # Arrival: raw bytes kept (and fsynced) with an unclassified row, as an entry point does.
        started = time.perf_counter()
        ids = []
        for i, mail in enumerate(corpus):
            ids.append(store_inbound(mail.raw, store=store, source="smtp", envelope_to=mail.envelope_to).id)
            if i % 500 == 499:
                db.session.commit()
        db.session.commit()
        if args.drain:  # held back, as if claimed by another drain, until their chunk's turn
            db.session.execute(
                update(Message).where(Message.id >= ids[0]).values(classify_claimed_at=utcnow())
            )
            db.session.commit()
        db.session.remove()
        print(f"stored: {len(ids)} raw messages in {time.perf_counter() - started:.1f}s (not timed)")

        trim_heap()
        baseline_kb = PeakRSS.status_kb("VmRSS")
        peak = PeakRSS()
        profiler = cProfile.Profile() if args.profile else None
        floor_s = value_s = 0.0
        # CPU time and statements while classifying: they drift less than rates on a shared machine.
        floor_cpu = value_cpu = 0.0
        server_cpu: Counter[str] = Counter()  # this machine's PostgreSQL and Redis meanwhile
        statements = Counter()

        def count(conn, cursor, statement, parameters, context, executemany):
            statements["all"] += 1

        event.listen(db.engine, "before_cursor_execute", count)
        for start in range(0, len(corpus), args.chunk):
            chunk = corpus[start : start + args.chunk]
            t0, c0 = time.perf_counter(), time.process_time()
            for mail in chunk:
                email.message_from_bytes(mail.raw, policy=email.policy.default)
            floor_s += time.perf_counter() - t0
            floor_cpu += time.process_time() - c0
            trim_heap()
            with peak:
                if profiler:
                    profiler.enable()
                t0, c0, s0 = time.perf_counter(), time.process_time(), servers_cpu()
                if args.drain:  # the chunk's rows only: the others wait, claimed (see below)
                    release_claims(ids[start : start + args.chunk])
                    drain_unclassified(settings=settings, store=store, budget=3600)
                    db.session.remove()
                for message_id in ids[start : start + args.chunk] if not args.drain else ():
                    classify_stored(message_id, settings=settings, store=store)
                    db.session.remove()  # as the job wrapper does after each job
                value_s += time.perf_counter() - t0
                value_cpu += time.process_time() - c0
                server_cpu.update({name: t - s0[name] for name, t in servers_cpu().items()})
                if profiler:
                    profiler.disable()

        event.remove(db.engine, "before_cursor_execute", count)
        outcomes = defaultdict(Counter)
        rows = db.session.execute(select(Message.id, Message.outcome).where(Message.id >= ids[0]))
        by_id = dict(rows.all())
        for mail, message_id in zip(corpus, ids, strict=True):
            outcomes[mail.kind][by_id[message_id]] += 1
        print("outcomes by generated kind:")
        for kind, counter in sorted(outcomes.items()):
            print(f"  {kind:14} {dict(counter.most_common())}")
        unclassified = db.session.scalar(
            select(func.count()).where(
                Message.id >= ids[0], or_(Message.outcome.is_(None), Message.outcome == "classifying")
            )
        )
        print(f"fingerprint: {fingerprint(ids[0])}")

        largest = max(sizes)
        parse_peak, classify_peak = largest_message_allocations(
            corpus[sizes.index(largest)].raw, settings, store
        )
        print(
            f"tracemalloc, largest message ({largest / MB:.1f} MB): parse alone {parse_peak / MB:.1f} MB "
            f"({parse_peak / largest:.2f}x), classify_stored {classify_peak / MB:.1f} MB "
            f"({classify_peak / largest:.2f}x)"
        )
        if profiler:
            profiler.dump_stats(args.profile)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    n = len(ids)
    value, floor = n / value_s, n / floor_s
    over_kb = peak.peak_kb - baseline_kb
    bound = 4 * largest
    method = "VmHWM reset by clear_refs" if peak.can_reset else "VmRSS sampled every 1 ms"
    print(f"floor: {n} messages parsed in {floor_s:.2f}s = {floor:.0f} messages/s")
    print(
        f"value: {n} messages classified in {value_s:.2f}s = {value:.0f} messages/s (ratio "
        f"{value / floor:.3f})"
    )
    print(
        f"CPU: classifying {1000 * value_cpu / n:.2f} ms a message, parsing alone {1000 * floor_cpu / n:.2f} "
        f"({value_cpu / floor_cpu:.2f}x); {statements['all'] / n:.2f} SQL statements a message; local "
        "servers meanwhile (ms a message): "
        + ", ".join(f"{name} {1000 * seconds / n:.2f}" for name, seconds in server_cpu.items())
    )
    print(
        f"memory ({method}): baseline {baseline_kb / 1024:.0f} MB, peak {peak.peak_kb / 1024:.0f} MB, "
        f"peak - baseline {over_kb / 1024:.1f} MB vs 4 x largest message {bound / MB:.1f} MB "
        f"({'ok' if over_kb * 1024 < bound else 'OVER'})"
    )
    print(
        f"run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {dialect}, profiled={bool(args.profile)}"
    )
    if unclassified:
        print(f"WARNING: {unclassified} messages left unclassified")
    result = {
        "bench": NAME,
        "value": round(value, 1),
        "unit": "messages/s",
        "floor": round(floor, 1),
        "ratio": round(value / floor, 4),
        "goal": GOAL,
        "messages": n,
        "existing_messages": world.counts["messages"],
        "database": dialect,
        "largest_message_bytes": largest,
        "cpu_ms_per_message": round(1000 * value_cpu / n, 2),
        "parse_cpu_ms_per_message": round(1000 * floor_cpu / n, 2),
        "statements_per_message": round(statements["all"] / n, 2),
        "server_cpu_ms_per_message": {name: round(1000 * t / n, 2) for name, t in server_cpu.items()},
        "rss_baseline_mb": round(baseline_kb / 1024, 1),
        "rss_peak_over_baseline_mb": round(over_kb / 1024, 1),
        "memory_bound_mb": round(bound / MB, 1),
        "memory_fraction_of_bound": round(over_kb * 1024 / bound, 3),  # under 1 meets the goal
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
