#!/usr/bin/env python
"""CPU time per folder request, in process: what a request costs the app, whatever the load.

    .venv/bin/python bench/folders_cpu.py --database-url sqlite:////tmp/hm_bench/f100k.db
    .venv/bin/python bench/folders_cpu.py --database-url postgresql+psycopg://... --profile /tmp/list.prof

The app runs in this process (the Flask test client, no HTTP, no gunicorn) on a database
`bench/generate.py` filled, signed in as the admin and as the recruiter who sees a tenth of the
offers, and /healthz (the trivial route: the floor). Each request is made --repeat times after a
warm-up; printed: the median and the least process CPU time (`time.process_time`: the
machine's load inflates it far less than wall time; on SQLite it includes the database's own
work, on PostgreSQL only the app's side), the median wall time and the number of statements.
Every request renders its page (PAGE_CACHE_SECONDS=0); `--kept` times pages seen again instead,
served from Redis (webapp/page_cache.py). Responses are gzipped as a browser asks.
`--profile FILE` runs cProfile over the repeats of one request (`--only`) and writes its stats
to FILE. The last line is one JSON object of the convention.
"""

import argparse
import cProfile
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bench.folders import HTMX, THREAD_ROW, USERS, _login_test_client, app_env  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import Config  # noqa: E402
from webapp.extensions import db  # noqa: E402

NAME = "folders_cpu"
GZIP = {"Accept-Encoding": "gzip"}  # as every browser asks: compressing is part of the cost
LIST = {**HTMX, **GZIP, "HX-Target": "message-list"}
PANE = {**HTMX, **GZIP, "HX-Target": "message-pane"}
OLDER = re.compile(r'hx-get="[^"]*[?&](?:amp;)?before=([^"&]+)')


def requests_for(client) -> list[tuple[str, str, dict]]:
    """(label, path, headers): the inbox page, a list, page 2, a pane, a search and the counts' page."""
    listed = client.get("/mail/candidates", headers={**HTMX, "HX-Target": "message-list"}).text
    thread_id = THREAD_ROW.findall(listed)[0]
    older = OLDER.search(listed)
    found = [
        ("inbox page", "/mail/inbox", GZIP),
        ("candidates list", "/mail/candidates", LIST),
        ("candidates pane", f"/mail/candidates/{thread_id}", PANE),
        ("search interview", "/search?q=interview", LIST),
        ("/healthz (floor)", "/healthz", GZIP),
    ]
    if older:
        found.insert(2, ("candidates page 2", f"/mail/candidates?before={older.group(1)}", {**HTMX, **GZIP}))
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the repeats of --only into FILE")
    parser.add_argument("--only", default="candidates list", help="the request --profile runs")
    parser.add_argument("--who", default="admin", choices=sorted(USERS))
    parser.add_argument("--kept", action="store_true", help="pages seen again, served from Redis")
    args = parser.parse_args(argv)

    instance = tempfile.mkdtemp(prefix="hm-cpu-")
    try:
        seconds = "600" if args.kept else "0"  # the render path unless --kept
        app = create_app(Config(app_env(args.database_url, instance, PAGE_CACHE_SECONDS=seconds)))
        statements = [0]
        with app.app_context():
            event.listen(
                db.engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1)
            )
        results = {}
        for who, email in USERS.items():
            if args.profile and who != args.who:
                continue
            client = app.test_client()
            _login_test_client(client, email)
            for label, path, headers in requests_for(client):
                if args.profile and label != args.only:
                    continue
                for _ in range(3):  # warm-up: templates compiled, caches filled
                    assert client.get(path, headers=headers).status_code == 200, (label, path)
                cpu, wall, counts = [], [], []
                profiler = cProfile.Profile() if args.profile else None
                for _ in range(args.repeat):
                    statements[0] = 0
                    c0, w0 = time.process_time(), time.perf_counter()
                    if profiler:
                        profiler.enable()
                    response = client.get(path, headers=headers)
                    if profiler:
                        profiler.disable()
                    cpu.append((time.process_time() - c0) * 1000)
                    wall.append((time.perf_counter() - w0) * 1000)
                    counts.append(statements[0])
                    assert response.status_code == 200
                if profiler:
                    profiler.dump_stats(args.profile)
                    print(f"profile of {who} {label} written to {args.profile}")
                results[f"{who} {label}"] = {
                    "cpu_ms": round(statistics.median(cpu), 2),
                    "cpu_min_ms": round(min(cpu), 2),
                    "wall_ms": round(statistics.median(wall), 2),
                    "statements": max(counts),
                    "bytes": len(response.data),
                }
                r = results[f"{who} {label}"]
                print(
                    f"{who:5} {label:20} cpu {r['cpu_ms']:6.2f} ms (min {r['cpu_min_ms']:6.2f})  "
                    f"wall {r['wall_ms']:6.2f} ms  "
                    f"{r['statements']:2} statements  {r['bytes']:6} bytes",
                    flush=True,
                )
        worst = max(r["cpu_ms"] for r in results.values())
        load = os.getloadavg()[0]
        print(
            json.dumps({"bench": NAME, "value": worst, "unit": "ms cpu", "load": round(load, 1), **results})
        )
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
