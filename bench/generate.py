#!/usr/bin/env python
"""A real team's mailbox, written straight into the app's schema, for the folder benchmark.

    .venv/bin/python bench/generate.py --messages 100000 --database-url sqlite:////tmp/hm_bench14/100k.db
    .venv/bin/python bench/generate.py --messages 1000000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/hm_bench14_1m

The schema is built by the migrations (`flask --app wsgi db upgrade`, with DATABASE_URL pointing
at the target); `--replace` first empties a database that already has one (PostgreSQL: its
public schema is dropped; SQLite: the file is deleted). Then, deterministic for a `--seed`:

- 20 users (password "bench-password"): one admin (ADMIN_EMAIL, who also recruits for 6 offers),
  19 recruiters on a few offers each, one of them (TENTH_EMAIL) on 5 of the 50 offers; each
  follows a few offers and some candidates;
- 50 offers: 44 jobs, 6 talent pools; candidates (messages / 5) placed on one offer, some on
  two, some on none;
- conversations (about messages / 2.7, newest activity up to the generation day): with candidates
  (alternating inbound and outbound, replies, auto-replies, internal notes of colleagues, a few
  failed sends, a few still scheduled), with non-candidates (vendors, agencies), internal mail
  between team members, incoming CVs to job CV addresses and the company CV inbox (most already
  processed); attachments for some, recipients for inbound mail, 15% of conversations archived,
  per-user read state (old mail mostly read, recent mail often not), a few quarantined messages.

The status, direction and outcome values are the vocabulary of webapp/models/message.py (the
database refuses others). The bulk tables' secondary indexes are dropped for the load and
recreated afterwards from their own definitions. SQLite: the driver's executemany in batches;
the search index's insert trigger is dropped too, and the search entries are written in one
INSERT ... SELECT made from the trigger's own statement before it is put back. PostgreSQL:
COPY (`--no-copy`: Core executemany), foreign-key triggers off for the loading session only
(the rows are consistent by construction), the GIN search index among the recreated indexes,
then ANALYZE. If the app has a command that rebuilds derived folder data (a "rebuild" command
naming folders), it is run at the end.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import JSON, create_engine, insert, make_url, text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from bench.datagen import AGENCIES, FIRST, JOBS, LAST, MAIL_DOMAINS, POOLS, SENTENCES, SIGNOFFS  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Direction, Outcome, Status  # noqa: E402

PASSWORD = "bench-password"
DOMAIN = "mail.demo.test"  # the app's default INBOUND_DOMAIN: the bench runs the app without setting it
COMPANY = "bench-company.example"
ADMIN_EMAIL = f"ada@{COMPANY}"
TENTH_EMAIL = f"tess@{COMPANY}"  # the recruiter who sees 5 of the 50 offers
TENTH_OFFERS = 5
N_USERS, N_JOBS, N_POOLS = 20, 44, 6
SPAN = timedelta(days=730)  # two years of history
BATCH = 20_000  # messages generated (and written) per batch
RECENT = timedelta(days=10)  # mail younger than this is often still unread
# Tables written in this order (foreign keys), with their rows counted for the rate.
TABLES = (
    "users",
    "offers",
    "offer_access",
    "offer_follows",
    "candidates",
    "candidate_emails",
    "placements",
    "candidate_follows",
    "threads",
    "messages",
    "attachments",
    "message_recipients",
    "message_reads",
)
BULK_TABLES = ("threads", "messages", "attachments", "message_recipients", "message_reads")

RECRUITERS = [
    "Rita",
    "Sam",
    "Nadia",
    "Pedro",
    "Jonas",
    "Amara",
    "Wei",
    "Priya",
    "Diego",
    "Hannah",
    "Lucas",
    "Nora",
    "Marta",
    "Kofi",
    "Yuki",
    "Omar",
    "Elif",
    "Mateo",
]
CITIES = ["Paris", "Berlin", "Lisbon", "Remote"]
CANDIDATE_SUBJECTS = [
    "Your application for {job}",
    "{job}: next steps",
    "Interview availability",
    "Quick question about the {job} role",
    "Following up on our call",
    "Take-home exercise",
    "Application: {job}",
    "Offer letter and start date",
    "References for {job}",
    "Thank you for your time",
]
VENDOR_SUBJECTS = [
    "Invoice {month}",
    "Partnership proposal",
    "Event sponsorship",
    "Your order has shipped",
    "Job posting renewal",
    "Candidates for your open roles",
    "Meeting room booking",
]
INTERNAL_SUBJECTS = [
    "Hiring plan {month}",
    "Interview panel for next week",
    "Debrief notes",
    "Headcount update",
    "Sourcing sync",
    "Feedback on the take-home",
]
VENDORS = [
    ("LinkedIn", "jobs-noreply@linkedin.example"),
    ("Welcome to the Jungle", "news@wttj.example"),
    ("Office Supplies Co", "orders@officesupplies.example"),
    ("Payroll Partner", "support@payroll.example"),
    ("Event Team", "events@techmeetup.example"),
    ("Accounting", "invoices@accounting-firm.example"),
    ("Legal Partners", "contact@legal-partners.example"),
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September"]
AUTO_REPLY = "I am out of the office until Monday with limited access to email. I will reply on my return."


@dataclass
class Team:
    """The people and offers, and who may see what: what the conversations are drawn from."""

    users: list[dict] = field(default_factory=list)
    offers: list[dict] = field(default_factory=list)
    access: dict[int, list[int]] = field(default_factory=dict)  # offer id -> user ids
    candidates: list[dict] = field(default_factory=list)  # id, name, email, offers
    rows: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in TABLES})


def _hex(rng: random.Random, n: int = 64) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _ascii(name: str) -> str:
    table = str.maketrans("éèëïöüäåøçñáíóúôàßÉÖÜÄÅ' ", "eeeiouaaocnaiouoasEOUAA--")
    return name.translate(table).lower()


def build_team(rng: random.Random, n_candidates: int, now: datetime, password_hash: str) -> Team:
    """Users, offers, access, follows, candidates and placements."""
    team = Team()
    start = now - SPAN - timedelta(days=30)
    visible_offers = _people_and_offers(rng, team, start, password_hash)
    by_offer = _candidates(rng, team, start, n_candidates)
    per_user = max(10, n_candidates // 500)
    for user in team.users:
        pool = [cid for oid in visible_offers[user["id"]] for cid in by_offer[oid]]
        for cid in sorted(set(rng.sample(pool, min(per_user, len(pool))))):
            team.rows["candidate_follows"].append(
                {"user_id": user["id"], "candidate_id": cid, "created_at": start}
            )
    team.rows["users"] = team.users
    team.rows["offers"] = team.offers
    for i, row in enumerate(team.rows["placements"], start=1):
        row["id"] = i
    return team


def _people_and_offers(rng: random.Random, team: Team, start: datetime, password_hash: str) -> dict:
    """Users, offers, who has access to which and who follows which; the offers each user sees."""
    names = [("Ada", "admin")] + [(n, "recruiter") for n in RECRUITERS] + [("Tess", "recruiter")]
    for uid, (first, role) in enumerate(names, start=1):
        user = {
            "id": uid,
            "email": f"{first.lower()}@{COMPANY}",
            "name": f"{first} {LAST[uid % len(LAST)]}",
            "password_hash": password_hash,
            "role": role,
            "inbound_local": first.lower(),
            "signature": f"{first} {LAST[uid % len(LAST)]}\nTalent team, Bench Company",
            "timezone": "Europe/Paris",
            "locale": None,
            "is_active_user": True,
            "created_at": start,
        }
        team.users.append(user)
    assert team.users[-1]["email"] == TENTH_EMAIL
    assert len(team.users) == N_USERS
    titles = [(f"{JOBS[i % len(JOBS)]}, {CITIES[i // len(JOBS)]}", "job") for i in range(N_JOBS)]
    titles += [(t, "pool") for t in POOLS] + [("Leadership talent pool", "pool")]
    for oid, (title, kind) in enumerate(titles[: N_JOBS + N_POOLS], start=1):
        slug = "-".join("".join(c if c.isalnum() else " " for c in _ascii(title)).split())
        team.offers.append(
            {"id": oid, "kind": kind, "title": title, "slug": slug, "is_open": True, "created_at": start}
        )
        team.access[oid] = []
    offer_ids = [o["id"] for o in team.offers]
    recruiters = [u["id"] for u in team.users if u["role"] == "recruiter"]
    tenth = recruiters[-1]
    # Every offer has a team of two or three recruiters (never the tenth, placed below).
    for oid in offer_ids:
        for uid in rng.sample(recruiters[:-1], rng.choice((2, 2, 3))):
            team.access[oid].append(uid)
    for oid in rng.sample(offer_ids, TENTH_OFFERS):
        team.access[oid].append(tenth)
    # The admin (head of talent) sees everything, and also recruits for a few offers herself.
    for oid in rng.sample(offer_ids, 6):
        team.access[oid].append(1)
    for oid, uids in team.access.items():
        team.rows["offer_access"] += [{"user_id": uid, "offer_id": oid} for uid in uids]
    visible_offers = {u["id"]: [o for o, uids in team.access.items() if u["id"] in uids] for u in team.users}
    visible_offers[1] = offer_ids
    for user in team.users:
        for oid in rng.sample(visible_offers[user["id"]], min(3, len(visible_offers[user["id"]]))):
            team.rows["offer_follows"].append({"user_id": user["id"], "offer_id": oid, "created_at": start})
    return visible_offers


def _candidates(rng: random.Random, team: Team, start: datetime, n_candidates: int) -> dict[int, list[int]]:
    """Candidates, their addresses and placements; the candidates placed on each offer."""
    offer_ids = [o["id"] for o in team.offers]
    # Some offers draw far more candidates than others.
    weights = [rng.paretovariate(1.2) for _ in offer_ids]
    by_offer: dict[int, list[int]] = {oid: [] for oid in offer_ids}
    email_id = 0
    for cid in range(1, n_candidates + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{_ascii(first)}.{_ascii(last)}{cid}@{rng.choice(MAIL_DOMAINS)}"
        roll = rng.random()
        count = 0 if roll < 0.12 else (2 if roll > 0.85 else 1)
        offers = list(dict.fromkeys(rng.choices(offer_ids, weights, k=count)))
        team.candidates.append({"id": cid, "name": f"{first} {last}", "email": email, "offers": offers})
        team.rows["candidates"].append(
            {"id": cid, "first_name": first, "last_name": last, "created_at": start}
        )
        email_id += 1
        team.rows["candidate_emails"].append({"id": email_id, "candidate_id": cid, "email": email})
        if rng.random() < 0.1:  # a second address
            email_id += 1
            second = f"{_ascii(first)[0]}{_ascii(last)}.{cid}@{rng.choice(MAIL_DOMAINS)}"
            team.rows["candidate_emails"].append({"id": email_id, "candidate_id": cid, "email": second})
        for oid in offers:
            by_offer[oid].append(cid)
            stage = rng.choice(("new", "screen", "interview", "offer", "hired", "rejected"))
            team.rows["placements"].append(
                {"candidate_id": cid, "offer_id": oid, "stage": stage, "created_at": start}
            )
    return by_offer


MESSAGE_DEFAULTS = {
    "in_reply_to": None,
    "references": None,
    "cc_addresses": [],
    "bcc_addresses": [],
    "body_html": None,
    "raw_sha256": None,
    "raw_size": 0,
    "has_attachments": False,
    "candidate_id": None,
    "sender_id": None,
    "is_internal": False,
    "is_auto_reply": False,
    "is_cv": False,
    "cv_offer_id": None,
    "cv_processed_at": None,
    "source": None,
    "envelope_from": None,
    "envelope_to": [],
    "outcome": None,
    "outcome_reason": None,
    "classified_at": None,
    "classify_requeues": 0,
    "defects": [],
    "bounced_message_id": None,
    "delivery_state": None,
    "error": None,
    "send_attempts": 0,
    "send_started_at": None,
    "bulk_id": None,
    "scheduled_at": None,
    "sent_at": None,
    "received_at": None,
}


class History:
    """Conversations, oldest-id first, in batches of rows for every bulk table."""

    def __init__(self, rng: random.Random, team: Team, now: datetime):
        self.rng, self.team, self.now = rng, team, now
        self.users = team.users
        self.admin = team.users[0]
        self.recruiters = [u for u in team.users if u["role"] == "recruiter"]
        self.jobs = [o for o in team.offers if o["kind"] == "job"]
        self.message_id = 0
        self.thread_id = 0
        self.attachment_id = 0
        self.batch: dict[str, list[dict]] = {t: [] for t in BULK_TABLES}
        self.texts = [
            "\n\n".join(" ".join(rng.sample(SENTENCES, rng.randint(2, 4))) for _ in range(rng.randint(1, 3)))
            for _ in range(5000)
        ]

    # -- pieces ---------------------------------------------------------------------------

    def _body(self, greeting: str, signer: str) -> str:
        # Drawn from a pool made once: sampling sentences for every message was half the run.
        return f"{greeting}\n\n{self.rng.choice(self.texts)}\n\n{self.rng.choice(SIGNOFFS)}\n{signer}"

    def _start(self) -> datetime:
        # More recent mail than old: the team grew.
        return self.now - SPAN * (self.rng.random() ** 1.6) - timedelta(days=1)

    def _owner(self, offer_id: int | None) -> dict:
        uids = self.team.access.get(offer_id, []) if offer_id else []
        if uids and self.rng.random() < 0.93:
            return self.users[self.rng.choice(uids) - 1]
        return self.rng.choice(self.users)

    def _message(self, thread: dict, previous: dict | None, at: datetime, **values) -> dict:
        self.message_id += 1
        mid = self.message_id
        host = values.pop("host", DOMAIN)
        row = {
            **MESSAGE_DEFAULTS,
            "id": mid,
            "thread_id": thread["id"] if thread else None,
            "message_id": f"<{self.rng.getrandbits(64):016x}.{mid}@{host}>",
            "created_at": at,
            "sort_at": at,
            **values,
        }
        if previous is not None:
            row["in_reply_to"] = previous["message_id"]
            refs = (previous["references"] or "") + " " + previous["message_id"]
            row["references"] = refs.strip()[-900:]
            row["subject"] = row["subject"] if row["subject"].startswith("Re: ") else "Re: " + row["subject"]
        row["snippet"] = " ".join(row["body_text"].split())[:200]
        self.batch["messages"].append(row)
        return row

    def _inbound(self, thread, previous, at, frm, name, to_users, body, **values) -> dict:
        to = [f"{u['inbound_local']}@{DOMAIN}" for u in to_users] or values.pop("to", [])
        values.pop("to", None)
        row = self._message(
            thread,
            previous,
            at,
            host=frm.rpartition("@")[2],
            direction=Direction.INBOUND.value,
            status=Status.RECEIVED.value,
            from_address=frm,
            from_name=name,
            to_addresses=to,
            subject=thread["subject"],
            body_text=body,
            raw_sha256=_hex(self.rng),
            raw_size=len(body) + self.rng.randint(1200, 6000),
            source="smtp",
            envelope_from=frm,
            envelope_to=to,
            classified_at=at,
            received_at=at,
            **values,
        )
        for user in to_users:
            self.batch["message_recipients"].append({"message_id": row["id"], "user_id": user["id"]})
        return row

    def _outbound(self, thread, previous, at, user, to, body, **values) -> dict:
        status = values.pop("status", Status.SENT.value)
        return self._message(
            thread,
            previous,
            at,
            direction=Direction.OUTBOUND.value,
            status=status,
            from_address=user["email"],
            from_name=user["name"],
            to_addresses=[to],
            subject=thread["subject"],
            body_text=body + f"\n\n-- \n{user['signature']}",
            raw_size=len(body) + 900,
            sender_id=user["id"],
            source="compose",
            sent_at=at if status in (Status.SENT, Status.FAILED) else None,
            send_attempts=0 if status == Status.SCHEDULED else 1,
            **values,
        )

    def _attach(self, message: dict, filename: str, content_type: str, size: int, inline=False) -> None:
        self.attachment_id += 1
        self.batch["attachments"].append(
            {
                "id": self.attachment_id,
                "message_id": message["id"],
                "filename": filename,
                "content_type": content_type,
                "size": size,
                "sha256": _hex(self.rng),
                "is_inline": inline,
                "content_id": f"logo{self.attachment_id}@mail" if inline else None,
            }
        )
        if not inline:
            message["has_attachments"] = True

    def _reads(self, message: dict, addressed: list[dict], team_ids: list[int]) -> None:
        """Who has read this inbound message: nearly everyone it reached, if it is old."""
        rng = self.rng
        old = message["sort_at"] < self.now - RECENT
        readers = set()
        for user in addressed:
            if rng.random() < (0.97 if old else 0.45):
                readers.add(user["id"])
        for uid in team_ids:
            if rng.random() < (0.35 if old else 0.1):
                readers.add(uid)
        if rng.random() < (0.5 if old else 0.15):
            readers.add(self.admin["id"])
        at = message["sort_at"] + timedelta(hours=rng.uniform(0.1, 30))
        self.batch["message_reads"] += [
            {"user_id": uid, "message_id": message["id"], "read_at": min(at, self.now)}
            for uid in sorted(readers)
        ]

    def _thread(self, subject: str, at: datetime, candidate_id=None, offer_id=None) -> dict:
        self.thread_id += 1
        thread = {
            "id": self.thread_id,
            "subject": subject,
            "candidate_id": candidate_id,
            "offer_id": offer_id,
            "last_message_at": at,
            "is_archived": False,
            "archived_at": None,
            "archived_by_id": None,
            "created_at": at,
        }
        self.batch["threads"].append(thread)
        return thread

    def _close(self, thread: dict, last_at: datetime, owner: dict) -> None:
        thread["last_message_at"] = last_at
        if self.rng.random() < 0.15 and last_at < self.now - timedelta(days=2):
            thread["is_archived"] = True
            thread["archived_at"] = min(last_at + timedelta(hours=self.rng.uniform(1, 48)), self.now)
            thread["archived_by_id"] = owner["id"]

    def _length(self) -> int:
        return min(1 + int(self.rng.expovariate(1 / 2.4)), 14)

    def _next(self, at: datetime) -> datetime:
        return at + timedelta(hours=self.rng.uniform(0.5, 60))

    # -- conversations --------------------------------------------------------------------

    def candidate_thread(self) -> None:
        rng = self.rng
        candidate = rng.choice(self.team.candidates)
        offer_id = rng.choice(candidate["offers"]) if candidate["offers"] else None
        offer = self.team.offers[offer_id - 1] if offer_id else rng.choice(self.jobs)
        owner = self._owner(offer_id)
        team_ids = [u for u in self.team.access.get(offer_id, []) if u != owner["id"]] if offer_id else []
        subject = rng.choice(CANDIDATE_SUBJECTS).format(job=offer["title"])
        at = self._start()
        thread = self._thread(subject, at, candidate["id"], offer_id)
        first = candidate["name"].split()[0]
        outbound = rng.random() < 0.5
        previous, last_at = None, at
        for position in range(self._length()):
            if at > self.now:
                break
            if outbound:
                status = Status.FAILED.value if rng.random() < 0.006 else Status.SENT.value
                extra = {"error": "550 5.1.1 mailbox unavailable"} if status == Status.FAILED else {}
                msg = self._outbound(
                    thread,
                    previous,
                    at,
                    owner,
                    candidate["email"],
                    self._body(f"Hi {first},", ""),
                    status=status,
                    candidate_id=candidate["id"],
                    **extra,
                )
                if rng.random() < 0.05:
                    self._attach(
                        msg,
                        f"{offer['slug']}-description.pdf",
                        "application/pdf",
                        rng.randint(40_000, 300_000),
                    )
                if rng.random() < 0.02:  # an out-of-office answer: a note, never a reason
                    note_at = at + timedelta(minutes=rng.uniform(1, 5))
                    note = self._inbound(
                        thread,
                        msg,
                        note_at,
                        candidate["email"],
                        candidate["name"],
                        [owner],
                        AUTO_REPLY,
                        candidate_id=candidate["id"],
                        is_auto_reply=True,
                        outcome=Outcome.AUTO_REPLY.value,
                        outcome_reason="auto-reply (Auto-Submitted: auto-replied)",
                    )
                    note["subject"] = "Automatic reply: " + thread["subject"]
            else:
                msg = self._inbound(
                    thread,
                    previous,
                    at,
                    candidate["email"],
                    candidate["name"],
                    [owner],
                    self._body(f"Hello {owner['name'].split()[0]},", candidate["name"]),
                    candidate_id=candidate["id"],
                    outcome=(Outcome.REPLY if previous else Outcome.CANDIDATE).value,
                    outcome_reason="a reply in a known conversation" if previous else "sender is a candidate",
                )
                if rng.random() < 0.15:
                    self._attach(
                        msg,
                        f"{_ascii(candidate['name']).replace(' ', '_')}_CV.pdf",
                        "application/pdf",
                        int(2 ** rng.uniform(12, 18.6)),
                    )
                self._reads(msg, [owner], team_ids)
            previous, last_at = msg, at
            if position == 1 and team_ids and rng.random() < 0.06:  # a colleague's note in the thread
                colleague = self.users[rng.choice(team_ids) - 1]
                at = self._next(at)
                if at <= self.now:
                    note = self._inbound(
                        thread,
                        previous,
                        at,
                        colleague["email"],
                        colleague["name"],
                        [owner],
                        self._body(f"Hi {owner['name'].split()[0]},", colleague["name"]),
                        sender_id=colleague["id"],
                        is_internal=True,
                        outcome=Outcome.REPLY.value,
                        outcome_reason="a reply in a known conversation (from a team member)",
                    )
                    self._reads(note, [owner], [])
                    previous, last_at = note, at
            outbound = not outbound
            at = self._next(at)
        if previous is not None and previous["direction"] == Direction.INBOUND and rng.random() < 0.01:
            # An answer written and scheduled for later.
            due = self.now + timedelta(hours=rng.uniform(2, 120))
            self._outbound(
                thread,
                previous,
                due,
                owner,
                candidate["email"],
                self._body(f"Hi {first},", ""),
                status=Status.SCHEDULED.value,
                candidate_id=candidate["id"],
                scheduled_at=due,
            )
        self._close(thread, last_at, owner)

    def outsider_thread(self) -> None:
        rng = self.rng
        owner = rng.choice(self.users)
        if rng.random() < 0.5:
            name, address = rng.choice(VENDORS)
            subject = rng.choice(VENDOR_SUBJECTS).format(month=rng.choice(MONTHS))
        else:
            agency = rng.choice(AGENCIES)
            person = rng.choice(FIRST)
            name, address = f"{person} ({agency})", f"{_ascii(person)}@{agency}"
            subject = "Candidates for your open roles"
        at = self._start()
        thread = self._thread(subject, at)
        previous, last_at = None, at
        for position in range(min(self._length(), 6)):
            if at > self.now:
                break
            if position % 2 == 0:
                msg = self._inbound(
                    thread,
                    previous,
                    at,
                    address,
                    name,
                    [owner],
                    self._body("Hello,", name),
                    outcome=(Outcome.REPLY if previous else Outcome.NON_CANDIDATE).value,
                    outcome_reason="sender is not a candidate",
                )
                if rng.random() < 0.3:
                    self._attach(msg, "logo.png", "image/png", rng.randint(3_000, 20_000), inline=True)
                if rng.random() < 0.1:
                    self._attach(msg, "invoice.pdf", "application/pdf", rng.randint(20_000, 120_000))
                self._reads(msg, [owner], [])
            else:
                msg = self._outbound(thread, previous, at, owner, address, self._body("Hello,", ""))
            previous, last_at = msg, at
            at = self._next(at)
        self._close(thread, last_at, owner)

    def internal_thread(self) -> None:
        rng = self.rng
        sender, *to = rng.sample(self.users, rng.choice((2, 2, 3)))
        subject = rng.choice(INTERNAL_SUBJECTS).format(month=rng.choice(MONTHS))
        at = self._start()
        thread = self._thread(subject, at)
        previous, last_at = None, at
        people = [sender, *to]
        for position in range(min(self._length(), 5)):
            if at > self.now:
                break
            writer = people[position % len(people)]
            others = [u for u in people if u is not writer]
            msg = self._inbound(
                thread,
                previous,
                at,
                writer["email"],
                writer["name"],
                others,
                self._body("Hi all,", writer["name"]),
                sender_id=writer["id"],
                is_internal=True,
                outcome=(Outcome.REPLY if previous else Outcome.INTERNAL).value,
                outcome_reason="sender is a team member",
            )
            self._reads(msg, others, [])
            previous, last_at = msg, at
            at = self._next(at)
        self._close(thread, last_at, sender)

    def cv_thread(self) -> None:
        rng = self.rng
        company_inbox = rng.random() < 0.1
        job = None if company_inbox else rng.choice(self.jobs)
        person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if rng.random() < 0.6:
            agency = rng.choice(AGENCIES)
            name, address = f"Talent desk ({agency})", f"desk@{agency}"
        else:
            name, address = (
                person,
                f"{_ascii(person).replace(' ', '.')}{rng.randint(1, 999)}@{rng.choice(MAIL_DOMAINS)}",
            )
        to = f"cv+{job['slug']}@{DOMAIN}" if job else f"cv@{DOMAIN}"
        subject = f"CV: {person} for {job['title']}" if job else f"Spontaneous application: {person}"
        at = self._start()
        thread = self._thread(subject, at, None, job["id"] if job else None)
        processed = at < self.now - timedelta(days=3) and rng.random() < 0.8
        msg = self._inbound(
            thread,
            None,
            at,
            address,
            name,
            [],
            self._body("Hello,", name),
            to=[to],
            is_cv=True,
            cv_offer_id=job["id"] if job else None,
            outcome=Outcome.INCOMING_CV.value,
            outcome_reason=f"sent to {to}",
            cv_processed_at=at + timedelta(hours=rng.uniform(2, 60)) if processed else None,
        )
        self._attach(
            msg,
            f"{_ascii(person).replace(' ', '_')}_CV.pdf",
            "application/pdf",
            int(2 ** rng.uniform(12, 18.6)),
        )
        self._reads(msg, [], (self.team.access.get(job["id"], []) if job else []))
        self._close(thread, at, self.admin)

    def quarantined(self) -> None:
        at = self._start()
        self._message(
            None,
            None,
            at,
            host="spam.example",
            direction=Direction.INBOUND.value,
            status=Status.QUARANTINED.value,
            from_address="noreply@spam.example",
            from_name="",
            to_addresses=[f"cv@{DOMAIN}"],
            subject="(unreadable)",
            body_text="",
            raw_sha256=_hex(self.rng),
            raw_size=30_000_000,
            source="smtp",
            outcome=Outcome.QUARANTINED.value,
            outcome_reason="a header line is longer than the limit",
            classified_at=at,
            received_at=at,
        )

    def batches(self, n_messages: int) -> Iterator[dict[str, list[dict]]]:
        """Batches of rows until `n_messages` messages have been made."""
        rng = self.rng
        kinds = (self.candidate_thread, self.outsider_thread, self.internal_thread, self.cv_thread)
        weights = (0.74, 0.12, 0.04, 0.10)
        while self.message_id < n_messages:
            if rng.random() < 0.0005:
                self.quarantined()
            else:
                rng.choices(kinds, weights)[0]()
            if len(self.batch["messages"]) >= BATCH or self.message_id >= n_messages:
                batch, self.batch = self.batch, {t: [] for t in BULK_TABLES}
                yield batch


# -- writing ------------------------------------------------------------------------------


class Writer:
    """Core executemany in large batches (PostgreSQL with --no-copy)."""

    def __init__(self, conn, tables):
        self.conn, self.tables = conn, tables

    def write(self, name: str, rows: list[dict]) -> None:
        if rows:
            self.conn.execute(insert(self.tables[name]), rows)


class SqliteWriter:
    """The driver's executemany with values in the very form SQLAlchemy stores them on SQLite.

    (Naive UTC datetimes as "YYYY-MM-DD HH:MM:SS.ffffff", JSON as json.dumps, booleans as 0/1):
    SQLAlchemy's per-value bind processing cost as much as SQLite's inserts.
    """

    def __init__(self, conn, tables):
        self.conn = conn
        self.columns = {name: [c.name for c in table.columns] for name, table in tables.items()}
        self.json = {name: _json_columns(table) for name, table in tables.items()}

    def write(self, name: str, rows: list[dict]) -> None:
        if not rows:
            return
        columns = [c for c in self.columns[name] if c in rows[0]]
        as_json = self.json[name]
        quoted = ", ".join(f'"{c}"' for c in columns)
        sql = f"INSERT INTO {name} ({quoted}) VALUES ({', '.join('?' * len(columns))})"
        self.conn.exec_driver_sql(
            sql, [tuple(_sqlite_value(row[c], c in as_json) for c in columns) for row in rows]
        )


class CopyWriter:
    """PostgreSQL COPY through psycopg, one COPY per table and batch."""

    def __init__(self, conn, tables):
        self.cursor = conn.connection.driver_connection.cursor()
        self.columns = {name: [c.name for c in table.columns] for name, table in tables.items()}
        self.json = {name: _json_columns(table) for name, table in tables.items()}

    def write(self, name: str, rows: list[dict]) -> None:
        if not rows:
            return
        columns = [c for c in self.columns[name] if c in rows[0]]
        as_json = self.json[name]
        quoted = ", ".join(f'"{c}"' for c in columns)
        with self.cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copy_value(row[c], c in as_json) for c in columns])


def _json_columns(table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, JSON)}


def _copy_value(value, as_json: bool):
    if as_json:
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)  # the columns hold naive UTC
    return value


def _sqlite_value(value, as_json: bool):
    if as_json:
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _drop_bulk_indexes_pg(conn) -> list[str]:
    """Drop the bulk tables' secondary indexes (not those of constraints); their definitions."""
    rows = conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
            "AND i.tablename = ANY(:tables) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)"
        ),
        {"tables": list(BULK_TABLES)},
    ).all()
    for name, _ in rows:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in rows]


# The search index's insert trigger (migration "full-text search of messages"), as one statement.
_FTS_TRIGGER = re.compile(
    r"(INSERT INTO message_fts\s*\([^)]*\))\s*VALUES\s*\((.*)\)\s*;\s*END\s*$", re.S | re.I
)


def _drop_bulk_indexes_sqlite(conn) -> list[str]:
    """Drop the bulk tables' explicit indexes and the search index's insert trigger.

    Returns the statements that put them back: each index's own CREATE, then the search entries of
    every message in one INSERT ... SELECT made from the trigger's own VALUES, then the trigger.
    """
    rows = conn.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN "
        f"({', '.join(repr(t) for t in BULK_TABLES)}) AND (type = 'index' OR name = 'messages_fts_insert')"
    ).all()
    indexes, search = [], []
    for kind, name, sql in rows:
        if kind == "trigger":
            found = _FTS_TRIGGER.search(sql)
            if not found:  # a trigger of another shape: keep it, let it fill the index row by row
                continue
            head, values = found.groups()
            search += [f"{head} SELECT {values.replace('new.', '')} FROM messages", sql]
        else:
            indexes.append(sql)
        conn.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
    return indexes + search


def migrate(url: str, instance: str) -> None:
    """Build the schema with the app's migrations, as an operator would."""
    env = {**os.environ, "DATABASE_URL": url, "INSTANCE_DIR": instance, "SECRET_KEY": "bench-generate"}
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    flask = str(Path(sys.executable).with_name("flask"))
    subprocess.run([flask, "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True)


def rebuild_command(url: str, instance: str) -> list[str] | None:
    """The app's command that rebuilds derived folder data, if it has one (e.g. `rebuild-folders`)."""
    env = {**os.environ, "DATABASE_URL": url, "INSTANCE_DIR": instance, "SECRET_KEY": "bench-generate"}
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    flask = str(Path(sys.executable).with_name("flask"))
    found = subprocess.run(
        [sys.executable, "-c", _FIND_REBUILD], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return [flask, "--app", "wsgi", *found] if found else None


# Walks the app's CLI for a command whose name says it rebuilds folders; prints its path.
_FIND_REBUILD = """
import click
from wsgi import app
def walk(group, path):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from walk(command, path + [name])
        else:
            yield path + [name]
for path in walk(app.cli, []):
    words = " ".join(path)
    if "rebuild" in words and "folder" in words:
        print(" ".join(path))
        break
"""


def reset(url: str) -> None:
    """Empty the target: drop PostgreSQL's public schema, or delete the SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def has_users(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM users")).scalar())
    except Exception:  # no schema yet
        return False
    finally:
        engine.dispose()


def load(url: str, n_messages: int, seed: int, copy: bool) -> tuple[dict[str, int], dict[str, float]]:
    """Generate and write everything; rows written per table, and seconds per phase."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    password_hash = generate_password_hash(PASSWORD)
    team = build_team(rng, max(200, n_messages // 5), now, password_hash)
    history = History(random.Random(seed + 1), team, now)
    tables = {name: db.metadata.tables[name] for name in TABLES}
    counts = dict.fromkeys(TABLES, 0)
    engine = create_engine(url)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            # The rows are consistent by construction: no foreign-key trigger per row.
            conn.execute(text("SET session_replication_role = replica"))
            conn.execute(text("SET maintenance_work_mem = '512MB'"))  # index builds in memory
            restore = _drop_bulk_indexes_pg(conn)
            writer = CopyWriter(conn, tables) if copy else Writer(conn, tables)
        else:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            restore = _drop_bulk_indexes_sqlite(conn)
            writer = SqliteWriter(conn, tables)
        started = time.perf_counter()
        for name in TABLES:
            if name not in BULK_TABLES:
                writer.write(name, team.rows[name])
                counts[name] += len(team.rows[name])
        for batch in history.batches(n_messages):
            for name in BULK_TABLES:
                writer.write(name, batch[name])
                counts[name] += len(batch[name])
            done = counts["messages"]
            rate = sum(counts[t] for t in BULK_TABLES) / (time.perf_counter() - started)
            print(
                f"  {done:>9,} messages, {counts['threads']:,} conversations ({rate:,.0f} rows/s)", flush=True
            )
        index_started = time.perf_counter()
        seconds = {"write": index_started - started}
        for statement in restore:
            conn.exec_driver_sql(statement)
        print(
            f"  indexes and search entries rebuilt in {time.perf_counter() - index_started:.1f}s "
            f"({len(restore)} statements)"
        )
        if postgres:
            conn.execute(text("SET session_replication_role = DEFAULT"))
            for name in TABLES:
                if "id" in tables[name].c:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
    analyze_started = time.perf_counter()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("ANALYZE"))
    seconds["indexes"] = analyze_started - index_started
    seconds["analyze"] = time.perf_counter() - analyze_started
    print(f"  ANALYZE in {seconds['analyze']:.1f}s")
    engine.dispose()
    return counts, seconds


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument(
        "--database-url", required=True, help="sqlite:////path/file.db or postgresql+psycopg://..."
    )
    parser.add_argument("--seed", type=int, default=1414)
    parser.add_argument("--replace", action="store_true", help="empty a database that already has data")
    parser.add_argument("--no-copy", action="store_true", help="PostgreSQL: executemany instead of COPY")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    url = args.database_url
    if has_users(url) and not args.replace:
        print(f"{url} already holds data; say --replace to empty it first", file=sys.stderr)
        return 2
    instance = tempfile.mkdtemp(prefix="hm-generate-")
    try:
        started = time.perf_counter()
        reset(url)
        migrate(url, instance)
        migrated = time.perf_counter()
        counts, phases = load(url, args.messages, args.seed, copy=not args.no_copy)
        loaded = time.perf_counter()
        command = rebuild_command(url, instance)
        if command:
            print(f"rebuilding: {' '.join(command[3:])}")
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "INSTANCE_DIR": instance,
                "SECRET_KEY": "bench-generate",
            }
            env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
            subprocess.run(command, cwd=ROOT, env=env, check=True)
        else:
            print("no folder rebuild command in the app: nothing to rebuild")
        finished = time.perf_counter()
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    rows = sum(counts.values())
    load_s = loaded - migrated
    print(", ".join(f"{name} {n:,}" for name, n in counts.items()))
    print(
        f"{rows:,} rows in {load_s:.1f}s = {rows / load_s:,.0f} rows/s "
        f"({counts['messages'] / load_s:,.0f} messages/s): generating and writing {phases['write']:.1f}s "
        f"({rows / phases['write']:,.0f} rows/s), indexes {phases['indexes']:.1f}s, ANALYZE "
        f"{phases['analyze']:.1f}s; migrations {migrated - started:.1f}s, "
        f"rebuild {finished - loaded:.1f}s, total {finished - started:.1f}s"
    )
    print(f"users: {ADMIN_EMAIL} (admin), {TENTH_EMAIL} (5 of 50 offers), ...; password {PASSWORD!r}")
    print(
        json.dumps(
            {
                "generate": make_url(url).get_backend_name(),
                "messages": counts["messages"],
                "rows": rows,
                "seconds": round(load_s, 1),
                "rows_per_s": round(rows / load_s),
                "write_rows_per_s": round(rows / phases["write"]),
                "index_s": round(phases["indexes"], 1),
                "total_s": round(finished - started, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
