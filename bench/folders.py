#!/usr/bin/env python
"""Folder pages through the real app under gunicorn, against the app's trivial route in the same run.

    .venv/bin/python bench/folders.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/hm_bench14_100k
    .venv/bin/python bench/folders.py --quick --database-url sqlite:////tmp/hm_bench14/hm_bench14_100k.db

The database is one `bench/generate.py` filled (its users and password); it is only read, except
for the read state the opened conversations get (the same few each run). The app runs as in
production: `gunicorn -w 4 wsgi:app`, Redis at 127.0.0.1:6379/14, a temporary instance folder.
Two users sign in over HTTP (the login form and its CSRF token): the admin and the recruiter
who sees 5 of the 50 offers. For each of the nine folders and each user the benchmark times:
  page    the full page (GET /mail/<slug>), folder counts included;
  list    the list as htmx asks for it (HX-Request, HX-Target: message-list);
  page50  the 50th page as scrolling asks for it (HX-Request, ?before=<cursor>), or the deepest
          page the folder has (its p95 marked pN); the cursor comes from the app itself: an in-process
          app with PAGE_SIZE 2450 lists the folder once and its "older" link holds the cursor
          (cached in the temporary folder for the next run on the same data);
  pane    opening a conversation of the first page (HX-Target: message-pane), as a click does;
and two searches (the top bar's htmx request, /search?q=...): a common word and a surname.
Floor: GET /healthz (the app's trivial route: one SELECT 1 and a Redis PING), timed after every
request of the value, so both see the same machine. Then 8 clients (8 users, threads) load the
inbox list for --seconds, and 8 clients load /healthz for as long: throughput against throughput.

The last line is the JSON object of the convention: value = the worst p95 (ms) of the folder
requests, floor = p95 of /healthz, ratio = floor / value, goal = 20 ms (50 ms over 500,000
messages); extra keys: the concurrent throughputs and their ratio (goal >= 0.5).
"""

import argparse
import gzip
import hashlib
import http.client
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.generate import ADMIN_EMAIL, COMPANY, PASSWORD, RECRUITERS, TENTH_EMAIL  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import Config  # noqa: E402

NAME = "folders"
FOLDERS = (
    "inbox",
    "sent",
    "scheduled",
    "candidates",
    "followed-candidates",
    "followed-jobs",
    "non-candidates",
    "archived",
    "incoming-cv",
)
QUICK_FOLDERS = ("inbox", "candidates", "non-candidates")
KINDS = ("page", "list", "page50", "pane")
SEARCHES = ("interview", "Nguyen")
USERS = {"admin": ADMIN_EMAIL, "tenth": TENTH_EMAIL}
PAGE_SIZE = 50
DEPTH = 49 * PAGE_SIZE  # rows before page 50
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")  # a session may have its own db
CHANGES = redis.Redis.from_url(REDIS_URL)
SECRET_KEY = "bench-folders"
HTMX = {"HX-Request": "true"}
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
THREAD_ROW = re.compile(r'id="thread-row-(\d+)"')
# (label, user) -> the page a "page50" request reaches (the folder may have fewer pages).
DEEPEST: dict[tuple[str, str], int] = {}
OLDER = re.compile(r'hx-get="[^"]*[?&](?:amp;)?before=([^"&]+)')  # the list's "older conversations" link


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", required=True, help="a database bench/generate.py filled")
    parser.add_argument("--quick", action="store_true", help="3 folders, 5 rounds, 5 s of concurrency")
    parser.add_argument("--rounds", type=int, help="timed rounds over every request (default 20; quick 5)")
    parser.add_argument("--budget", type=float, help="stop starting rounds after this many seconds")
    parser.add_argument("--seconds", type=float, help="concurrent phase length (default 20; quick 5)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--save", metavar="FILE", help="also write every timing to FILE (JSON)")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="move the team's change generation before every request (as any write does): every "
        "page is rendered, none is served again from Redis",
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (5 if args.quick else 20)
    args.budget = args.budget or (40 if args.quick else 1800)
    args.seconds = args.seconds or (5 if args.quick else 20)
    return args


def app_env(url: str, instance: str, **extra) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "INSTANCE_DIR": instance,
        "SECRET_KEY": SECRET_KEY,
        "REDIS_URL": REDIS_URL,
        "COOKIE_SECURE": "0",  # plain HTTP on localhost: the session cookie must come back
        "HTMX_CDN": "0",
        **extra,
    }


# -- HTTP ---------------------------------------------------------------------------------


class Client:
    """One browser: a cookie jar, a connection (gunicorn's sync workers close it each time), and
    gzip asked for and unpacked as a browser does."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes]:
        return self.request("GET", path, headers)

    def request(self, method: str, path: str, headers=None, body: bytes | None = None) -> tuple[int, bytes]:
        sent = {"Accept-Encoding": "gzip", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                self.conn.close()  # a worker closed a kept connection: one new attempt
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        if response.will_close:
            self.conn.close()
        if response.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return response.status, data

    def login(self, email: str) -> None:
        status, page = self.get("/login")
        token = CSRF.search(page.decode())
        if status != 200 or not token:
            raise RuntimeError(f"no login form (HTTP {status})")
        form = urlencode({"csrf_token": token.group(1), "email": email, "password": PASSWORD, "next": ""})
        status, _ = self.request(
            "POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"}, form.encode()
        )
        if status != 302:
            raise RuntimeError(f"login as {email} refused (HTTP {status})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(url: str, instance: str, port: int, workers: int) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    log = open(Path(instance) / "gunicorn.log", "w")  # noqa: SIM115 (open while the server runs)
    server = subprocess.Popen(
        [gunicorn, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "900", "wsgi:app"],
        cwd=ROOT,
        env={**os.environ, **app_env(url, instance)},
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if Client(port).get("/healthz")[0] == 200:
                return server
        except OSError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.2)
    stop(server)
    raise RuntimeError(f"gunicorn did not answer; see {log.name}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


# -- what to request ----------------------------------------------------------------------


def data_key(url: str) -> tuple[str, int, int]:
    """The database's dialect, message count and a key that changes when the data does."""
    engine = create_engine(url)
    with engine.connect() as conn:
        count, top = conn.execute(text("SELECT count(*), max(id) FROM messages")).one()
        threads = conn.execute(text("SELECT max(id) FROM threads")).scalar()
    engine.dispose()
    digest = hashlib.sha256(f"{url}|{count}|{top}|{threads}".encode()).hexdigest()[:16]
    return engine.dialect.name, count, digest


def deep_cursors(url: str, folders: tuple[str, ...], key: str) -> dict:
    """For each user and folder: (page number, cursor) of page 50, or of the deepest page there is.

    Asked of the app itself, in process, with a page size of 2,450: its "older" link after the
    first 2,450 rows is the cursor page 50 starts after. Cached per dataset.
    """
    cache = Path(tempfile.gettempdir()) / f"hiremail-folder-cursors-{key}.json"
    found = json.loads(cache.read_text()) if cache.exists() else {}
    missing = [(who, slug) for who in USERS for slug in folders if f"{who} {slug}" not in found]
    if not missing:
        return found
    print(f"finding the page-50 cursors of {len(missing)} folders (once per dataset)...", flush=True)
    instance = tempfile.mkdtemp(prefix="hm-cursors-")
    apps = {}
    try:
        for who, slug in missing:
            page, cursor = None, None
            size = DEPTH
            while size >= PAGE_SIZE:
                if size not in apps:
                    apps[size] = create_app(Config(app_env(url, instance, PAGE_SIZE=str(size))))
                client = apps[size].test_client()
                _login_test_client(client, USERS[who])
                html = client.get(f"/mail/{slug}", headers={**HTMX, "HX-Target": "message-list"}).text
                older = OLDER.search(html)
                rows = len(THREAD_ROW.findall(html))
                if older:
                    page, cursor = size // PAGE_SIZE + 1, older.group(1)
                    break
                # Fewer rows than that: the deepest page this folder has.
                size = PAGE_SIZE * ((rows - 1) // PAGE_SIZE) if rows > PAGE_SIZE else 0
            found[f"{who} {slug}"] = [page, cursor]
            print(f"  {who:5} {slug:20} page {page or '-'}", flush=True)
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    cache.write_text(json.dumps(found))
    return found


def _login_test_client(client, email: str) -> None:
    token = CSRF.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"login as {email} refused in process ({response.status_code})")


def plan(clients: dict[str, Client], folders, kinds, cursors) -> list[tuple[str, str, str, dict]]:
    """(label, user, path, headers) of every timed request; the list requests double as warm-up."""
    requests = []
    for who, client in clients.items():
        # Each gunicorn worker compiles the templates on first use: not what is measured.
        for _ in range(2):
            for path, headers in (
                ("/mail/inbox", {}),
                ("/search?q=interview", {**HTMX, "HX-Target": "message-list"}),
            ):
                client.get(path, headers)
        for slug in folders:
            status, html = client.get(f"/mail/{slug}", {**HTMX, "HX-Target": "message-list"})
            if status != 200:
                raise RuntimeError(f"{who} {slug}: HTTP {status}")
            threads = THREAD_ROW.findall(html.decode())
            for kind in kinds:
                if kind == "page":
                    requests.append((f"{slug} page", who, f"/mail/{slug}", {}))
                elif kind == "list":
                    requests.append(
                        (f"{slug} list", who, f"/mail/{slug}", {**HTMX, "HX-Target": "message-list"})
                    )
                elif kind == "page50":
                    page, cursor = cursors[f"{who} {slug}"]
                    if cursor:
                        DEEPEST[(f"{slug} page50", who)] = page
                        requests.append((f"{slug} page50", who, f"/mail/{slug}?before={cursor}", dict(HTMX)))
                elif kind == "pane" and threads:
                    # The same few conversations every round (opening one marks it read).
                    for thread_id in threads[:3]:
                        headers = {**HTMX, "HX-Target": "message-pane"}
                        requests.append((f"{slug} pane", who, f"/mail/{slug}/{thread_id}", headers))
        for query in SEARCHES:
            path = "/search?" + urlencode({"q": query})
            requests.append((f"search {query!r}", who, path, {**HTMX, "HX-Target": "message-list"}))
    return requests


# -- measuring ----------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def timed(client: Client, path: str, headers: dict) -> tuple[float, int]:
    started = time.perf_counter()
    status, _ = client.get(path, headers)
    return (time.perf_counter() - started) * 1000, status


def change() -> None:
    """What any write does to the kept pages: move the team's change generation (webapp/changes.py)."""
    CHANGES.incr("hm:gen")


def first_views(clients, requests, args) -> dict[tuple[str, str], float]:
    """Every request once, untimed in the rounds: a user's first look, which renders each page
    (and keeps it in Redis for the next look). Its times are reported apart."""
    first: dict[tuple[str, str], float] = {}
    change()  # each rendered, even if an earlier run on the same data kept it
    for label, who, path, headers in requests:
        ms, _ = timed(clients[who], path, headers)
        first[(label, who)] = max(first.get((label, who), 0.0), ms)
    return first


def rounds(clients, floor_client, requests, args) -> tuple[dict, list[float], dict, int]:
    """Every request once per round, in a new order each round, each followed by the floor."""
    rng = random.Random(args.seed)
    samples: dict[tuple[str, str], list[float]] = {}
    floor: list[float] = []
    errors: dict[tuple[str, str, int], int] = {}
    started = time.monotonic()
    done = 0
    for number in range(1, args.rounds + 1):
        order = list(requests)
        rng.shuffle(order)
        for label, who, path, headers in order:
            if args.fresh:
                change()
            ms, status = timed(clients[who], path, headers)
            samples.setdefault((label, who), []).append(ms)
            if status != 200:
                errors[(label, who, status)] = errors.get((label, who, status), 0) + 1
            ms, status = timed(floor_client, "/healthz", {})
            floor.append(ms)
        done = number
        elapsed = time.monotonic() - started
        print(f"  round {number}: {elapsed:.0f} s", flush=True)
        if elapsed * (number + 1) / number > args.budget and number < args.rounds:
            print(f"  stopping after {number} rounds (budget {args.budget:.0f} s)")
            break
    return samples, floor, errors, done


def concurrent(
    port: int, emails: list[str], path: str, headers: dict, seconds: float, fresh: bool = False
) -> tuple[float, list[float]]:
    """Requests per second of len(emails) clients each loading `path` for `seconds`; latencies."""
    clients = []
    for email in emails:
        client = Client(port)
        if email:
            client.login(email)
        clients.append(client)
    latencies: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(clients) + 1)
    deadline = [0.0]

    dropped = [0]

    def run(client: Client) -> None:
        gate.wait()
        mine = []
        while time.perf_counter() < deadline[0]:
            if fresh:
                change()
            try:
                mine.append(timed(client, path, headers)[0])
            except (ConnectionError, http.client.HTTPException):
                # Reset twice under load: counted, and this client goes on (a dead thread would
                # silently drop its share of the throughput).
                client.conn.close()
                with lock:
                    dropped[0] += 1
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run, args=(c,)) for c in clients]
    for worker in workers:
        worker.start()
    started = time.perf_counter()
    deadline[0] = started + seconds
    gate.wait()
    for worker in workers:
        worker.join()
    if dropped[0]:
        print(f"  {path}: {dropped[0]} requests failed (connection reset), not counted", flush=True)
    # Requests started before the deadline all count; so does the time they took to finish.
    return len(latencies) / (time.perf_counter() - started), latencies


def main(argv=None) -> int:
    args = parse_args(argv)
    url = args.database_url
    dialect, messages, key = data_key(url)
    folders = QUICK_FOLDERS if args.quick else FOLDERS
    searches_kept = SEARCHES[:1] if args.quick else SEARCHES
    print(f"{dialect}, {messages:,} messages; folders: {', '.join(folders)}")
    cursors = deep_cursors(url, folders, key)
    instance = tempfile.mkdtemp(prefix="hm-folders-")
    port = args.port or free_port()
    server = start_gunicorn(url, instance, port, args.workers)
    try:
        clients = {who: Client(port) for who in USERS}
        for who, client in clients.items():
            client.login(USERS[who])
        floor_client = Client(port)
        for _ in range(8):
            floor_client.get("/healthz")
        warm = time.monotonic()
        requests = plan(clients, folders, KINDS, cursors)
        requests = [
            r for r in requests if not r[0].startswith("search") or any(q in r[0] for q in searches_kept)
        ]
        print(f"{len(requests)} requests a round (warm-up {time.monotonic() - warm:.0f} s)", flush=True)
        first = first_views(clients, requests, args)
        samples, floor, errors, done = rounds(clients, floor_client, requests, args)

        emails = [ADMIN_EMAIL] + [f"{n.lower()}@{COMPANY}" for n in RECRUITERS][: args.clients - 1]
        print(f"{args.clients} clients, {args.seconds:.0f} s each phase...", flush=True)
        floor_rps, floor_lat = concurrent(port, [""] * args.clients, "/healthz", {}, args.seconds)
        list_headers = {**HTMX, "HX-Target": "message-list"}
        value_rps, value_lat = concurrent(port, emails, "/mail/inbox", list_headers, args.seconds, args.fresh)
    finally:
        stop(server)
        log = (Path(instance) / "gunicorn.log").read_text()
        shutil.rmtree(instance, ignore_errors=True)
    concurrency = (floor_rps, floor_lat, value_rps, value_lat)
    if args.save:
        raw = {"samples": [[label, who, ms] for (label, who), ms in samples.items()], "floor": floor}
        Path(args.save).write_text(json.dumps({**raw, "concurrency": concurrency}))
    report(args, dialect, messages, requests, samples, floor, errors, done, concurrency, first)
    if "Traceback" in log or "WORKER TIMEOUT" in log:
        print("gunicorn log (errors):")
        print("\n".join(line for line in log.splitlines() if "Error" in line or "TIMEOUT" in line)[:3000])
    return 0


def report(args, dialect, messages, requests, samples, floor, errors, done, concurrency, first) -> None:
    floor_rps, floor_lat, value_rps, value_lat = concurrency
    labels = list(dict.fromkeys(label for label, _, _, _ in requests))
    print()
    heads = ("admin p50", "p95", "tenth p50", "p95", "first views")
    print(f"{'request':34} {heads[0]:>10} {heads[1]:>14} {heads[2]:>10} {heads[3]:>14} {heads[4]:>12}   (ms)")
    worst, worst_label = 0.0, ""
    for label in labels:
        cells = []
        for who in USERS:
            values = samples.get((label, who))
            if not values:
                cells += ["-", "-"]
                continue
            p95 = percentile(values, 95)
            if p95 > worst:
                worst, worst_label = p95, f"{label} ({who})"
            page = DEEPEST.get((label, who), 50)
            cells += [
                f"{statistics.median(values):,.0f}",
                f"{p95:,.0f}" + (f" (p{page})" if page != 50 else ""),
            ]
        firsts = "/".join(f"{first[(label, who)]:,.0f}" for who in USERS if (label, who) in first)
        print(f"{label:34} {cells[0]:>10} {cells[1]:>14} {cells[2]:>10} {cells[3]:>14} {firsts:>12}")
    floor_p50, floor_p95 = statistics.median(floor), percentile(floor, 95)
    print(f"{'/healthz (floor)':34} {floor_p50:>10,.1f} {floor_p95:>14,.1f}")
    print("(pN): the folder has fewer than 50 pages; its deepest page was timed")
    print(f"{done} rounds; every request once a round, each followed by /healthz")
    if args.fresh:
        print("--fresh: the team's change generation moved before every request: every page rendered")
    else:
        print("pages seen again (first views: an untimed round before, each rendered: admin/tenth)")
    for (label, who, status), count in sorted(errors.items()):
        print(f"ERROR: {label} ({who}): HTTP {status} x{count}")
    print(
        f"{args.clients} clients: inbox list {value_rps:.2f} requests/s "
        f"(p50 {statistics.median(value_lat):,.0f} ms), "
        f"/healthz {floor_rps:.1f} requests/s (p50 {statistics.median(floor_lat):,.1f} ms): "
        f"ratio {value_rps / floor_rps:.3f}"
    )
    print(
        f"run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {dialect}, "
        f"gunicorn -w {args.workers}"
    )
    goal = 50 if messages > 500_000 else 20
    result = {
        "bench": NAME,
        "value": round(worst, 1),
        "unit": "ms",
        "floor": round(floor_p95, 1),
        "ratio": round(floor_p95 / worst, 4) if worst else None,
        "goal": goal,
        "worst": worst_label,
        "database": dialect,
        "messages": messages,
        "rounds": done,
        "errors": sum(errors.values()),
        "concurrent_rps": round(value_rps, 2),
        "concurrent_floor_rps": round(floor_rps, 1),
        "concurrent_ratio": round(value_rps / floor_rps, 4),
        "concurrent_p50_ms": round(statistics.median(value_lat), 1),
        "fresh": args.fresh,
        "first_view_worst_ms": round(max(first.values()), 1) if first else None,
        "first_view_p50_ms": round(statistics.median(first.values()), 1) if first else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
