"""Bytes on the wire for the inbox: a first visit (page and every asset), a second visit (assets
cached), and a folder swap (htmx), gzipped as a browser receives them.

    .venv/bin/python bench/wire.py            # the demo data, Rita's inbox, a swap to All candidates

Counts response bodies as sent (gzipped); headers add about 0.4 KB a response. htmx counts
once, as the local copy's bytes: from the CDN it is the same file, gzipped the same way.
The last line is the JSON of docs/benchmarks.md's convention.
"""

import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOALS = {"first_visit_kb": 60, "second_visit_kb": 15, "swap_share": 0.20}
_ASSET = re.compile(r"""(?:href|src)="(/static/[^"]+)"|'(/static/vendor/[^'"\\]+)""")


def _body_bytes(response) -> int:
    return len(response.get_data())


def measure(client, folder: str = "inbox", swap_to: str = "candidates") -> dict:
    """Sizes in bytes for a logged-in test client; asserts nothing (the caller compares)."""
    gz = {"Accept-Encoding": "gzip, deflate, br"}
    page = client.get(f"/mail/{folder}", headers=gz)
    assert page.status_code == 200
    assert page.headers.get("Content-Encoding") == "gzip"
    html = client.get(f"/mail/{folder}").get_data(as_text=True)  # the same page, plain, to read
    assets = sorted({a or b for a, b in _ASSET.findall(html)})
    sizes, cached = {}, {}
    for url in assets:
        response = client.get(url, headers=gz)
        assert response.status_code == 200, url
        sizes[url] = _body_bytes(response)
        cached[url] = response.cache_control.max_age or 0
    swap = client.get(f"/mail/{swap_to}", headers={**gz, "HX-Request": "true", "HX-Target": "message-list"})
    page_bytes = _body_bytes(page)
    first = page_bytes + sum(sizes.values())
    # A second visit: the assets are fresh in the browser's cache (a year), only the page travels.
    second = page_bytes + sum(size for url, size in sizes.items() if cached[url] < 24 * 3600)
    return {
        "page": page_bytes,
        "page_plain": len(html.encode()),
        "assets": sizes,
        "assets_cached_s": cached,
        "first_visit": first,
        "second_visit": second,
        "swap": _body_bytes(swap),
        "swap_share": round(_body_bytes(swap) / first, 3),
        "rows": html.count('<li id="thread-row-'),
    }


def main() -> None:
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.demo import DEMO_PASSWORD, load_demo
    from webapp.extensions import db

    instance = tempfile.mkdtemp(prefix="hiremail-wire-")
    app = create_app(TestConfig({}, instance_dir=instance))
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        upgrade()
        load_demo()
        db.session.commit()
    runs = {}
    for email, folder, swap_to in (
        ("rita@demo.test", "inbox", "candidates"),
        ("ada@demo.test", "candidates", "inbox"),
    ):
        client = app.test_client()
        client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
        figures = runs[email] = measure(client, folder, swap_to)
        print(f"{email}, /mail/{folder} ({figures['rows']} rows), then a swap to /mail/{swap_to}:")
        for url, size in figures["assets"].items():
            print(f"  {url:56} {size / 1024:6.1f} KB  cached {figures['assets_cached_s'][url]} s")
        kb = {
            key: f"{figures[key] / 1024:.1f} KB"
            for key in ("page", "page_plain", "first_visit", "second_visit", "swap")
        }
        print(
            f"  page {kb['page']} gzipped ({kb['page_plain']} plain); first visit {kb['first_visit']}, "
            f"second {kb['second_visit']}, folder swap {kb['swap']} "
            f"({figures['swap_share']:.0%} of the first visit)"
        )
    worst = max(runs.values(), key=lambda f: f["first_visit"])
    summary = {
        "bench": "wire",
        "value": round(worst["first_visit"] / 1024, 1),
        "unit": "KB",
        "goal": GOALS["first_visit_kb"],
        "second_visit_kb": round(max(f["second_visit"] for f in runs.values()) / 1024, 1),
        "swap_share": max(f["swap_share"] for f in runs.values()),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
