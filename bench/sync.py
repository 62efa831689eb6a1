#!/usr/bin/env python
"""Mailbox sync throughput: an initial sync from a real Dovecot, against a bare imaplib fetch.

A Dovecot started here (tests/dovecot.py: Debian's dovecot-imapd, its own config in a temporary
folder) holds one user's mailbox of 10,000 messages (--quick: 2,000), a tenth of them candidate
mail: received from a candidate (INBOX) or sent to one (Sent); the rest newsletters, personal
and team mail. The database (SQLite in a temporary folder, or --database-url) knows the user
and the candidates. The database and blob store go under instance/bench (--workdir), where
the application keeps its data: on this machine /tmp, where every test run creates and deletes
thousands of files, creates a file ten times slower (docs/benchmarks.md).

  floor: a bare imaplib loop fetching every message of INBOX and Sent whole (UID FETCH of
         BODY.PEEK[] by 500), as any sync must at least read the mailbox;
  value: `sync_mailbox` as the sync job runs it (headers of every message by UID ranges,
         bodies of the candidate mail only, stored in batches, sent mail filed, folder state
         committed with each batch, each batch handed to the classify queue's drain).
         The drain that classifies the incoming mail (the inbound pipeline's own cost,
         bench/inbound.py; another worker, in parallel with the sync) is then run here and
         timed too, with the ratio of sync and classification one after the other.

Both in messages of the mailbox per second; the floor is measured before and after the sync
(mean), after a warm-up fetch that lets Dovecot build its indexes. Ratio = value / floor
(goal >= 0.5). Memory: peak RSS over the sync (VmHWM after a reset) minus the RSS before it.
The last line is the JSON object of the benchmark convention (docs/benchmarks.md).
"""

import argparse
import email.utils
import imaplib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.inbound import PeakRSS, migrate_fresh, trim_heap  # noqa: E402
from tests.dovecot import DOVECOT, NOT_INSTALLED, Dovecot  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import Config  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.mail.inbound.pipeline import drain_unclassified  # noqa: E402
from webapp.mail.sync.importer import Context  # noqa: E402
from webapp.mail.sync.qualify import SENT_HEADER_FIELDS  # noqa: E402
from webapp.mail.sync.runner import Timing, sync_mailbox  # noqa: E402
from webapp.models import Candidate, CandidateEmail, Direction, MailboxConnection, Message, User  # noqa: E402
from webapp.services import blob_store, mail_domain, mailbox_vault  # noqa: E402

NAME = "sync"
GOAL = 0.5
USER = "rita@team.test"
PASSWORD = "bench-imap"
CHUNK = 500


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 messages instead of 10,000")
    parser.add_argument("--messages", type=int, help="mailbox size (default 10,000; --quick 2,000)")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temporary folder)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--cold-headers",
        action="store_true",
        help="no mail client has read the mailbox: Dovecot builds its header cache during the sync",
    )
    parser.add_argument("--workdir", default=str(ROOT / "instance" / "bench"), help="where the data goes")
    return parser.parse_args(argv)


def _body(rng: random.Random, size: int) -> str:
    words = ["interview", "team", "offer", "python", "schedule", "role", "thanks", "week", "call", "news"]
    out, length = [], 0
    while length < size:
        line = " ".join(rng.choice(words) for _ in range(12))
        out.append(line)
        length += len(line) + 2
    return "\r\n".join(out)


def make_mailbox(server: Dovecot, n: int, candidates: list[str], rng: random.Random) -> dict[str, int]:
    """Write the messages straight into the maildirs (as a delivery agent does); counts by kind."""
    server.imap(USER).logout()  # Dovecot creates the maildir and the Sent folder
    counts = {"candidate_in": 0, "candidate_sent": 0, "other": 0}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    folders = {"INBOX": server.maildir(USER), "Sent": server.maildir(USER, "Sent")}
    for base in folders.values():
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        when = start + timedelta(minutes=30 * i)
        candidate = i % 10 == 0
        if candidate and i % 100 == 0:
            folder, sender, to = "Sent", USER, rng.choice(candidates)
            counts["candidate_sent"] += 1
        elif candidate:
            folder, sender, to = "INBOX", rng.choice(candidates), USER
            counts["candidate_in"] += 1
        else:
            kind = rng.choice(["news@letters.test", "friend@home.test", "sam@team.test", "shop@store.test"])
            folder, sender, to = ("Sent", USER, kind) if i % 7 == 0 else ("INBOX", kind, USER)
            counts["other"] += 1
        size = rng.choice([1500, 3000, 6000, 12000, 30000])
        raw = (
            f"From: {sender}\r\nTo: {to}\r\nSubject: Message {i}\r\n"
            f"Message-ID: <bench-{i}@mail.test>\r\nDate: {email.utils.format_datetime(when)}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{_body(rng, size)}\r\n"
        ).encode()
        path = folders[folder] / "cur" / f"{int(when.timestamp())}.{i}.bench:2,S"
        path.write_bytes(raw)
    for base in folders.values():
        for dirpath, _, files in os.walk(base):
            os.chown(dirpath, server.mail_uid, server.mail_gid)
            for name in files:
                os.chown(os.path.join(dirpath, name), server.mail_uid, server.mail_gid)
    return counts


def bare_fetch(server: Dovecot) -> int:
    """The floor: every message of INBOX and Sent fetched whole; how many."""
    conn = imaplib.IMAP4(server.host, server.port)
    conn.login(USER, PASSWORD)
    fetched = 0
    for folder in ("INBOX", "Sent"):
        conn.select(folder, readonly=True)
        _, data = conn.uid("SEARCH", "ALL")
        uids = data[0].split()
        for start in range(0, len(uids), CHUNK):
            _, found = conn.uid("FETCH", b",".join(uids[start : start + CHUNK]).decode(), "(BODY.PEEK[])")
            fetched += sum(1 for item in found if isinstance(item, tuple))
    conn.logout()
    return fetched


def warm_headers(server: Dovecot) -> None:
    """Read the header fields the sync asks for, as the user's mail client has (not timed).

    Dovecot keeps the header fields clients read in its cache: in a mailbox a mail client
    uses (Thunderbird, Apple Mail, K-9 ask for From, To, Cc, Message-ID, References...) they
    are there. Without this the sync alone would pay for building the cache, which the floor's
    warm-up builds for the bodies it reads.
    """
    conn = imaplib.IMAP4(server.host, server.port)
    conn.login(USER, PASSWORD)
    for folder in ("INBOX", "Sent"):
        conn.select(folder, readonly=True)
        conn.uid("FETCH", "1:*", f"(BODY.PEEK[HEADER.FIELDS ({SENT_HEADER_FIELDS})])")
    conn.logout()


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main(argv=None) -> int:
    if DOVECOT is None:
        print(NOT_INSTALLED, file=sys.stderr)
        return 2
    args = parse_args(argv)
    n = args.messages or (2000 if args.quick else 10000)
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    # ext4's "top of a hierarchy" mark: each run's folder goes to a block group of its own, not
    # beside the files the previous run just deleted (a journal-less ext4 skips those inodes
    # one by one at each new file, for minutes: docs/benchmarks.md). Harmless elsewhere.
    if shutil.which("chattr"):
        subprocess.run(["chattr", "+T", args.workdir], check=False, capture_output=True)
    tmp = Path(tempfile.mkdtemp(prefix="hiremail-bench-sync-", dir=args.workdir))
    # The mailbox (10,000 files, written before the timing and deleted after it) lives apart
    # from the store: a folder where thousands of files were just deleted creates new ones
    # slowly for minutes on this machine, and the next run's store would pay for this one's.
    mail = Path(tempfile.mkdtemp(prefix="hiremail-bench-sync-dovecot-"))
    mail.chmod(0o755)  # Dovecot's mail processes (not root) reach the maildirs inside
    server = Dovecot(mail / "dovecot")
    (mail / "dovecot").mkdir()
    server.add_user(USER, PASSWORD)
    server.start()
    try:
        return run(args, n, tmp, server)
    finally:
        server.stop()
        shutil.rmtree(mail, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, n: int, tmp: Path, server: Dovecot) -> int:
    rng = random.Random(args.seed)
    env = {
        "INSTANCE_DIR": str(tmp),
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        "STORAGE_DIR": str(tmp / "storage"),
        "SECRET_KEY": "bench-secret",
        "INBOUND_DOMAIN": "mail.bench.test",
    }
    app = create_app(Config(env))
    with app.app_context():
        migrate_fresh()
        user = User(email=USER, name="Rita Recruiter", inbound_local="rita", password_hash="x")
        db.session.add(user)
        candidates = [f"candidate{i}@people.test" for i in range(max(50, n // 20))]
        for i, address in enumerate(candidates):
            db.session.add(
                Candidate(first_name=f"C{i}", last_name="Bench", emails=[CandidateEmail(email=address)])
            )
        db.session.commit()
        counts = make_mailbox(server, n, candidates, rng)
        bare_fetch(server)  # warm-up: Dovecot indexes the maildirs (not timed)
        if not args.cold_headers:
            warm_headers(server)
        os.sync()  # the setup's writes (maildirs, indexes) are not left for the sync to flush

        floor_before, t1 = timed(lambda: bare_fetch(server))
        connection = MailboxConnection(
            user_id=user.id,
            host=server.host,
            port=server.port,
            security="none",
            username=USER,
            secret=mailbox_vault().encrypt(PASSWORD),
        )
        db.session.add(connection)
        db.session.commit()
        connection_id = connection.id
        db.session.remove()

        handed = [0]

        def hand_over(ids: list[int]) -> None:  # the job wakes the classify drain (Redis)
            handed[0] += len(ids)

        ctx = Context(store=blob_store(), domain=mail_domain(), on_stored=hand_over)
        trim_heap()
        baseline_kb = PeakRSS.status_kb("VmRSS")
        with PeakRSS() as peak:
            report, t_sync = timed(
                lambda: sync_mailbox(connection_id, mailbox_vault(), ctx, Timing(timeout=60))
            )
        floor_after, t2 = timed(lambda: bare_fetch(server))
        assert report is not None, "the sync failed"
        drained, t_classify = timed(
            lambda: drain_unclassified(settings=mail_domain(), store=blob_store(), budget=3600)
        )
        assert drained.count == handed[0], (drained.count, handed[0])
        imported = db.session.scalar(select(func.count(Message.id)).where(Message.source == "mailbox"))
        outbound = db.session.scalar(
            select(func.count(Message.id)).where(
                Message.source == "mailbox", Message.direction == Direction.OUTBOUND
            )
        )
        dialect = db.engine.dialect.name
    assert floor_before == floor_after == n, (floor_before, floor_after, n)
    wanted = counts["candidate_in"] + counts["candidate_sent"]
    assert imported == wanted, (imported, wanted)
    floor = n / ((t1 + t2) / 2)
    value = n / t_sync
    over_kb = max(0, peak.peak_kb - baseline_kb)
    print(f"mailbox: {n} messages ({wanted} candidate mail: {counts['candidate_in']} in, {outbound} sent)")
    print(f"floor (bare imaplib fetch): {floor:.0f} messages/s ({t1:.2f} s, {t2:.2f} s)")
    print(f"sync: {value:.0f} messages/s ({t_sync:.2f} s)")
    print(f"then the classify drain: {drained.count} messages in {t_classify:.2f} s")
    print(f"peak RSS over baseline {over_kb / 1024:.1f} MB")
    result = {
        "bench": NAME,
        "value": round(value, 1),
        "unit": "messages/s",
        "floor": round(floor, 1),
        "ratio": round(value / floor, 4),
        "goal": GOAL,
        "messages": n,
        "candidate_messages": wanted,
        "database": dialect,
        "sync_seconds": round(t_sync, 2),
        # The same classification as any inbound mail, by the classify queue's drain (another
        # worker, in parallel with the sync); both one after the other, as on a single core:
        "classify_seconds": round(t_classify, 2),
        "ratio_sync_then_classification": round((n / (t_sync + t_classify)) / floor, 4),
        "rss_baseline_mb": round(baseline_kb / 1024, 1),
        "rss_peak_over_baseline_mb": round(over_kb / 1024, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
