"""The demo team, offers, candidates and mail (`flask seed --demo`; never in production).

Deterministic: the same people, conversations and attachments every time (only generated ids
and reply tokens differ); dates are placed relative to the moment of seeding so the inbox looks
alive. The mail goes through the real paths (store and classify, compose and the delivery
drain), so the demo shows what the product files, not a second idea of it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.mail.addresses import bounce_address
from webapp.mail.domain import MailDomain
from webapp.mail.inbound.pipeline import classify_stored, store_inbound
from webapp.mail.outbound import compose, drafts
from webapp.mail.outbound.build import Draft, OutgoingFile, build
from webapp.mail.outbound.compose import Compose
from webapp.mail.outbound.delivery import drain
from webapp.mail.outbound.transport import PermanentError
from webapp.mail.read import entries
from webapp.mail.storage import BlobStore
from webapp.models import (
    DELIVERED_STATUSES,
    Candidate,
    CandidateEmail,
    CandidateFollow,
    Message,
    MessageRead,
    Offer,
    OfferAccess,
    OfferFollow,
    Placement,
    Thread,
    User,
)
from webapp.services import blob_store, mail_domain

DEMO_PASSWORD = "demo-password"
# Time the delivery drain may take for the demo's mail (it takes a few milliseconds a message).
SEND_BUDGET_S = 60.0

USERS = [
    # email, name, role, time zone
    ("ada@demo.test", "Ada Lovelace", "admin", "Europe/London"),
    ("rita@demo.test", "Rita Moreno", "recruiter", "Europe/Paris"),
    ("sam@demo.test", "Sam Okafor", "recruiter", "America/New_York"),
]
OFFERS = [
    # slug, kind, title, team
    ("backend-engineer", "job", "Backend Engineer (Python)", ["rita"]),
    ("product-designer", "job", "Product Designer", ["rita"]),
    ("engineering-pool", "pool", "Engineering talent pool", ["rita"]),
    ("data-analyst", "job", "Data Analyst", ["sam"]),
    ("account-executive", "job", "Account Executive", ["sam"]),
    ("head-of-finance", "job", "Head of Finance", []),  # admins only
]
CANDIDATES = [
    # key, first, last, addresses, offers
    ("lea", "Léa", "Martin", ["lea.martin@example.com"], ["backend-engineer"]),
    ("jonas", "Jonas", "Becker", ["jonas.becker@example.org"], ["backend-engineer", "engineering-pool"]),
    (
        "amara",
        "Amara",
        "Diallo",
        ["amara.diallo@example.net", "amara@diallo-design.example"],
        ["product-designer"],
    ),
    ("chen", "Wei", "Chen", ["chen.wei@example.com"], ["engineering-pool"]),
    ("priya", "Priya", "Nair", ["priya.nair@example.org"], ["data-analyst"]),
    ("diego", "Diego", "Alvarez", ["diego.alvarez@example.net"], ["data-analyst", "backend-engineer"]),
    ("hannah", "Hannah", "Schmidt", ["hannah.schmidt@example.com"], ["account-executive"]),
    ("lucas", "Lucas", "Moreau", ["lucas.moreau@example.com"], ["account-executive"]),
    ("tom", "Tom", "Baker", ["tom.baker@example.org"], ["head-of-finance"]),
    ("nora", "Nora", "Haddad", ["nora.haddad@example.net"], []),  # not placed yet
]
FOLLOWS = {
    "ada": (["tom"], ["backend-engineer"]),
    "rita": (["lea"], ["product-designer"]),
    "sam": (["priya"], ["account-executive"]),
}
# Older applications, so folders have more than a page and scrolling loads more.
BACKLOG_FIRST = ["Marta", "Kofi", "Ines", "Yuki", "Omar", "Sara", "Noah", "Elif", "Mateo", "Aino"]
BACKLOG_LAST = ["Silva", "Mensah", "Rossi", "Tanaka", "Farah", "Lind", "Keller", "Yilmaz"]


def tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF showing `text` (ASCII), for demo CVs."""
    safe = text.encode("ascii", "replace").decode().replace("(", "[").replace(")", "]")
    stream = f"BT /F1 18 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def cv(name: str) -> OutgoingFile:
    return OutgoingFile(
        f"{name.replace(' ', '_')}_CV.pdf", "application/pdf", tiny_pdf(f"{name} - Curriculum vitae")
    )


@dataclass
class Conversation:
    """A demo conversation: its subject, and the message the next one answers (None: not begun)."""

    subject: str
    last: Message | None = None
    thread_id: int | None = None

    def add(self, msg: Message) -> Message:
        """`msg` is the conversation's latest message now."""
        self.last, self.thread_id = msg, msg.thread_id
        return msg


class DemoServer:
    """The demo's outgoing mail server: accepts every message and keeps none (demo mail never
    leaves), except those it refuses as a server answering 5xx does: {envelope sender: reason}."""

    def __init__(self):
        self.refusals: dict[str, str] = {}

    def send(self, envelope_from: str, recipients: list[str], raw: bytes, before_data=None) -> str:
        if envelope_from in self.refusals:
            raise PermanentError(self.refusals[envelope_from])
        return "250 accepted by the demo server"

    def close(self) -> None:
        pass


class DemoBuilder:
    """Writes the demo's mail through the real paths; `at(days, hour)` places it in the past, in UTC.

    Inbound mail is built as raw bytes, stored and classified as SMTP mail is; outbound mail is
    created as compose creates it and sent through the delivery drain. Then each message is
    dated: the demo's mail happened over the past weeks, not all in the second of seeding.
    """

    def __init__(self, mail_domain: MailDomain, store: BlobStore, now: datetime):
        self.mail_domain, self.store, self.now = mail_domain, store, now
        self.domain = mail_domain.domain
        self.server = DemoServer()
        self.users: dict[str, User] = {}
        self.offers: dict[str, Offer] = {}
        self.candidates: dict[str, Candidate] = {}
        self.addresses: dict[str, tuple[str, str]] = {}  # key: (name, address), users and candidates
        self.conversations: list[Conversation] = []
        self.unsent: list[tuple[int, datetime, str | None]] = []  # (message id, sent at, refusal)
        self.counter = 0

    def at(self, days_ago: float, hour: int = 9, minute: int = 0) -> datetime:
        day = self.now - timedelta(days=days_ago)
        when = day.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if when > self.now:  # "today, later than now": spread over the last three hours instead
            when = self.now - timedelta(minutes=(hour * 37 + minute) % 170 + 5)
        return when

    def add_person(self, key: str, person: User | Candidate) -> None:
        """Remember a user or candidate by key, with their name and address."""
        if isinstance(person, User):
            self.users[key] = person
            self.addresses[key] = person.name, person.inbound_address(self.domain)
        else:
            self.candidates[key] = person
            self.addresses[key] = person.full_name, person.emails[0].email

    def conversation(self, subject: str) -> Conversation:
        conversation = Conversation(subject)
        self.conversations.append(conversation)
        return conversation

    def inbound(
        self, conv, frm, to, when, text, *, subject=None, html=None, attachments=(), read_by=(), headers=None
    ) -> Message:
        """Mail received: from a candidate key or a (name, address) pair, to a user key or CV address."""
        sender = self.addresses[frm] if isinstance(frm, str) else frm
        recipient = self.addresses[to] if to in self.users else ("", to)
        draft = Draft(
            from_name=sender[0],
            from_address=sender[1],
            to=[recipient],
            subject=subject or conv.subject,
            text=text,
            html=html,
            attachments=list(attachments),
            headers={**self._authenticated(sender[1]), **(headers or {})},
        )
        if conv.last is not None:
            draft.in_reply_to = conv.last.message_id
            draft.references = " ".join(filter(None, [conv.last.references, conv.last.message_id]))
        self.counter += 1
        raw = build(draft, f"<demo-{self.counter}@{self.domain}>", when).as_bytes()
        stored = store_inbound(
            raw, store=self.store, source="smtp", envelope_from=sender[1], envelope_to=[recipient[1]]
        )
        db.session.commit()
        classify_stored(stored.id, settings=self.mail_domain, store=self.store)
        self._date(stored.id, when, received_at=when)
        for key in read_by:
            db.session.add(MessageRead(user_id=self.users[key].id, message_id=stored.id, read_at=when))
        # Classifying wrote the row with Core statements: read it again, as filed.
        return conv.add(db.session.get(Message, stored.id, populate_existing=True))

    def _authenticated(self, address: str) -> dict[str, str]:
        """What our receiving server writes of genuine mail, when one is trusted: demo mail is
        genuine, so it carries no "Unverified sender" warning."""
        if not self.mail_domain.authserv_ids:
            return {}
        server = sorted(self.mail_domain.authserv_ids)[0]
        domain = address.rpartition("@")[2]
        return {"Authentication-Results": f"{server}; dmarc=pass header.from={domain}"}

    def outbound(
        self, conv, user, to, when, text, *, subject=None, error=None, scheduled=False, attachments=()
    ) -> Message:
        """Mail a user wrote to a candidate key or a (name, address) pair: to be sent (see send_all),
        refused with `error`, or `scheduled` for `when`."""
        sender = self.users[user]
        data = Compose(
            to=[(self.addresses[to] if isinstance(to, str) else to)[1]],
            subject=subject or conv.subject,
            body=text + sender.signature_block,
            attachments=list(attachments),
            send_at=when if scheduled else None,
            thread_id=conv.thread_id,
            in_reply_to=conv.last,
        )
        msg = compose.create(sender, data, self.mail_domain, self.store)
        if not scheduled:
            self.unsent.append((msg.id, when, error))
            if error:
                self.server.refusals[bounce_address(msg.id, self.domain, self.mail_domain.secret)] = error
        return conv.add(msg)

    def draft(self, user: str, to: tuple[str, str], subject: str, text: str) -> Message:
        """A new email a user began and left unsent (in their Drafts)."""
        sender = self.users[user]
        fields = drafts.DraftFields(
            to=[to[1]], cc=[], bcc=[], subject=subject, body=text + sender.signature_block
        )
        return drafts.save(sender, fields, from_address=sender.inbound_address(self.domain))

    def send_all(self) -> None:
        """Send what the users wrote, in one drain as a worker does, then date each message."""
        db.session.commit()
        drain(self.server, self.mail_domain, self.store, budget=SEND_BUDGET_S)
        for message_id, when, error in self.unsent:
            self._date(message_id, when, **({} if error else {"sent_at": when}))

    def _date(self, message_id: int, when: datetime, **columns) -> None:
        db.session.execute(
            update(Message).where(Message.id == message_id).values(created_at=when, sort_at=when, **columns)
        )

    def date_conversations(self) -> None:
        """Each conversation's activity: its latest delivered mail (only scheduled: half an hour ago)."""
        latest = (
            select(func.max(Message.sort_at))
            .where(Message.thread_id == Thread.id, Message.status.in_(DELIVERED_STATUSES))
            .scalar_subquery()
        )
        thread_ids = [c.thread_id for c in self.conversations if c.thread_id is not None]
        db.session.execute(
            update(Thread)
            .where(Thread.id.in_(thread_ids))
            .values(last_message_at=func.coalesce(latest, self.now - timedelta(minutes=30)))
            .execution_options(synchronize_session=False)
        )


def load_demo(now: datetime | None = None) -> str:
    """Create the demo data; returns a one-line summary."""
    if db.session.scalar(select(User).where(User.email == USERS[0][0])):
        return "already loaded, nothing changed"
    b = DemoBuilder(mail_domain(), blob_store(), now or datetime.now(UTC))
    session = db.session()
    # Each message commits (classifying does), and the builder uses its users, offers and
    # candidates after every one: loading them all again after each commit doubled the time.
    session.expire_on_commit = False
    try:
        _team(b)
        _conversations(b)
        _backlog(b)
        b.send_all()
        b.date_conversations()
        # The demo dates its mail after the fact, behind the operations' backs: recompute.
        entries.rebuild()
        db.session.commit()
    finally:
        session.expire_on_commit = True
    threads = db.session.query(Thread).count()
    messages = db.session.query(Message).count()
    return (
        f"{len(b.users)} users, {len(b.offers)} offers, {len(b.candidates)} candidates, {threads} "
        f"conversations, {messages} messages"
    )


def _team(b: DemoBuilder) -> None:
    for email, name, role, tz in USERS:
        key = email.split("@")[0]
        user = User(email=email, name=name, role=role, inbound_local=key, timezone=tz)
        user.signature = f"{name}\nTalent team, {current_app.config['COMPANY_NAME']}"
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        b.add_person(key, user)
    for slug, kind, title, _ in OFFERS:
        offer = Offer(slug=slug, kind=kind, title=title)
        db.session.add(offer)
        b.offers[slug] = offer
    db.session.flush()
    for slug, _, _, team in OFFERS:
        for key in team:
            db.session.add(OfferAccess(user_id=b.users[key].id, offer_id=b.offers[slug].id))
    for key, first, last, addresses, offers in CANDIDATES:
        c = Candidate(first_name=first, last_name=last)
        c.emails = [CandidateEmail(email=a) for a in addresses]
        c.placements = [Placement(offer=b.offers[s], stage="screening") for s in offers]
        db.session.add(c)
        b.add_person(key, c)
    db.session.flush()
    for user_key, (candidate_keys, offer_slugs) in FOLLOWS.items():
        uid = b.users[user_key].id
        for key in candidate_keys:
            db.session.add(CandidateFollow(user_id=uid, candidate_id=b.candidates[key].id))
        for slug in offer_slugs:
            db.session.add(OfferFollow(user_id=uid, offer_id=b.offers[slug].id))
    db.session.flush()


def _conversations(b: DemoBuilder) -> None:
    _rita(b)
    _sam(b)
    _ada(b)
    # Each user has an email begun and not sent yet (Drafts).
    b.draft(
        "rita",
        ("Nina Ortiz", "nina.ortiz@partner-agency.example"),
        "Shortlist for the backend role",
        "Hi Nina,\n\nHere are the three profiles we would like to",
    )
    b.draft("sam", ("Omar Fields", "omar@events.example"), "Career fair stand", "Hi Omar,\n\nCould we book")
    b.draft(
        "ada",
        ("Finance team", "finance@hiremail-demo.example"),
        "Hiring budget",
        "Hi all,\n\nFor next quarter",
    )
    _non_candidates(b)
    _incoming_cvs(b)


def _rita(b: DemoBuilder) -> None:
    t = b.conversation("Application for Backend Engineer")
    b.inbound(
        t,
        "lea",
        "rita",
        b.at(3, 8, 12),
        "Hello Rita,\n\nPlease find my CV attached for the Backend Engineer position. I have six years "
        "of Python experience, mostly with Flask and PostgreSQL.\n\nBest regards,\nLéa",
        attachments=[cv("Lea Martin")],
        read_by=["rita"],
    )
    b.outbound(
        t,
        "rita",
        "lea",
        b.at(2, 10, 30),
        "Hi Léa,\n\nThank you for your application! Would you be available for a first call on "
        "Thursday at 14:00 (Paris time)?\n\nKind regards",
    )
    b.inbound(
        t,
        "lea",
        "rita",
        b.at(0, 7, 45),
        "Hi Rita,\n\nThursday at 14:00 works perfectly for me. Should I prepare anything?\n\nLéa\n\n"
        "> Would you be available for a first call on Thursday at 14:00?",
    )

    t = b.conversation("Availability for a call")
    b.inbound(
        t,
        "jonas",
        "rita",
        b.at(0, 6, 5),
        "Hi Rita, I am free Monday or Tuesday afternoon for a call. Jonas",
        html="<p>Hi Rita,</p><p>I am free <b>Monday</b> or <b>Tuesday afternoon</b> for a call.</p>"
        "<p>My latest project: <a href='https://github.example/jonas'>github.example/jonas</a></p>"
        "<p>Jonas</p>",
    )

    t = b.conversation("Your portfolio")
    b.outbound(
        t,
        "rita",
        "amara",
        b.at(4, 15),
        "Hello Amara,\n\nI loved the case studies in your portfolio. Could you send the full "
        "Figma file for the banking app?\n\nThanks",
    )
    b.inbound(
        t,
        ("Amara Diallo", "amara@diallo-design.example"),
        "rita",
        b.at(1, 18, 20),
        "Hi Rita,\n\nHere is the export of the banking app case study (my studio address, by the "
        "way).\n\nAmara",
        attachments=[
            OutgoingFile("banking-app-case-study.pdf", "application/pdf", tiny_pdf("Banking app case study"))
        ],
    )

    t = b.conversation("Engineering meetup in Lyon")
    b.outbound(
        t,
        "rita",
        "chen",
        _next_morning(b.now, "Europe/Paris", 1),
        "Hi Wei,\n\nWe host an engineering meetup in Lyon next month and would love to see you there.",
        scheduled=True,
    )

    t = b.conversation("Quick question about your profile")
    b.outbound(
        t,
        "rita",
        "nora",
        b.at(5, 11),
        "Hello Nora,\n\nI came across your profile. Would you be open to a conversation about "
        "engineering management roles?",
    )
    b.inbound(
        t,
        "nora",
        "rita",
        b.at(1, 9, 40),
        "Hello Rita, yes, happy to talk. I am free most mornings next week. Nora",
    )

    t = b.conversation("Interview confirmation")
    b.outbound(
        t,
        "rita",
        "jonas",
        b.at(1, 16),
        "Hi Jonas,\n\nConfirming your interview on Tuesday at 15:00.",
        error="550 5.1.1 <jonas.becker@example.org>: mailbox unavailable",
    )

    t = b.conversation("Thanks for applying")
    b.outbound(
        t, "rita", "lea", b.at(9, 9), "Hi Léa, thanks for applying, we will be in touch within a week."
    )
    b.inbound(
        t, "lea", "rita", b.at(9, 12), "Thank you Rita, looking forward to it!", read_by=["rita", "ada"]
    )
    _archive(t, b.users["rita"], b.at(8))

    t = b.conversation("Technical test")
    b.outbound(t, "rita", "jonas", b.at(6, 10), "Hi Jonas,\n\nHere is the technical test. You have a week.")
    b.inbound(
        t,
        "jonas",
        "rita",
        b.at(6, 10, 1),
        "I am out of the office until Monday with limited access to email.",
        subject="Automatic reply: Technical test",
        headers={"Auto-Submitted": "auto-replied"},
    )


def _sam(b: DemoBuilder) -> None:
    t = b.conversation("Question about the Data Analyst role")
    b.inbound(
        t,
        "priya",
        "sam",
        b.at(2, 14),
        "Hi Sam,\n\nIs the Data Analyst role open to remote candidates? I am based in Lisbon.\n\nPriya",
        read_by=["sam"],
    )
    b.outbound(t, "sam", "priya", b.at(2, 16), "Hi Priya,\n\nYes, the team works remotely across Europe.")
    b.inbound(t, "priya", "sam", b.at(0, 5, 50), "Great news, thanks Sam! I have just applied.")

    t = b.conversation("Follow-up on my application")
    b.inbound(
        t,
        "diego",
        "sam",
        b.at(1, 13, 5),
        "Hello Sam,\n\nI wanted to follow up on my application for the Data Analyst role. I also applied "
        "to the Backend Engineer position.\n\nDiego",
        html="<div style='font-family:Georgia'><p>Hello Sam,</p><p>I wanted to follow up on my "
        "application for the <i>Data Analyst</i> role. I also applied to the Backend Engineer "
        "position.</p><p>Diego</p><img src='https://tracker.example/pixel.gif' width=1 height=1></div>",
    )

    t = b.conversation("Interview slots next week")
    b.outbound(t, "sam", "hannah", b.at(3, 17), "Hi Hannah,\n\nCould you pick an interview slot next week?")
    b.inbound(
        t,
        "hannah",
        "sam",
        b.at(0, 4, 30),
        "Hi Sam, Wednesday at 10:00 works best. I attached my references.",
        attachments=[
            OutgoingFile("references.pdf", "application/pdf", tiny_pdf("References - Hannah Schmidt"))
        ],
    )

    t = b.conversation("Offer details")
    b.outbound(
        t,
        "sam",
        "lucas",
        _next_morning(b.now, "America/New_York", 3),
        "Hi Lucas,\n\nAs promised, here are the details of our offer.",
        scheduled=True,
    )

    t = b.conversation("Withdrawing my application")
    b.inbound(
        t,
        "lucas",
        "sam",
        b.at(12, 10),
        "Hi Sam, I accepted another offer and withdraw my application.",
        read_by=["sam"],
    )
    b.outbound(t, "sam", "lucas", b.at(12, 15), "Thanks for letting us know, Lucas. Good luck!")
    _archive(t, b.users["sam"], b.at(11))


def _ada(b: DemoBuilder) -> None:
    t = b.conversation("Head of Finance application")
    b.inbound(
        t,
        "tom",
        "ada",
        b.at(1, 8),
        "Dear Ada,\n\nPlease find attached my application for Head of Finance.\n\nTom Baker",
        attachments=[cv("Tom Baker")],
    )

    t = b.conversation("Second interview")
    b.outbound(
        t,
        "ada",
        "tom",
        _next_morning(b.now, "Europe/London", 2),
        "Dear Tom,\n\nWe would like to invite you to a second interview with our CFO.",
        scheduled=True,
    )

    t = b.conversation("Welcome to the process")
    b.outbound(
        t, "ada", "priya", b.at(1, 11), "Hi Priya,\n\nWelcome! Sam will guide you through the next steps."
    )

    t = b.conversation("Reference check")
    b.outbound(t, "ada", "tom", b.at(15, 9), "Dear Tom, could you share two references?")
    b.inbound(t, "tom", "ada", b.at(14, 9), "Of course, here they are: ...", read_by=["ada"])
    _archive(t, b.users["ada"], b.at(13))


def _non_candidates(b: DemoBuilder) -> None:
    t = b.conversation("Candidates for your backend role")
    b.inbound(
        t,
        ("Jane Cole", "jane@talentpartners.example"),
        "rita",
        b.at(1, 10),
        "Hi Rita,\n\nWe have three strong backend profiles for you. Shall I send them over? Our fee is "
        "18% of the first-year salary.\n\nJane Cole, Talent Partners",
    )

    t = b.conversation("Sponsor the Data Meetup")
    b.inbound(
        t,
        ("Data Meetup", "events@datameetup.example"),
        "sam",
        b.at(2, 9),
        "Hello Sam, would your company like to sponsor our next Data Meetup?",
        html="<h2>Data Meetup #42</h2><p>Hello Sam, would your company like to <b>sponsor</b> our next "
        "meetup?</p><p><a href='https://datameetup.example/sponsor'>See the packages</a></p>",
    )

    t = b.conversation("Invoice question")
    b.outbound(
        t,
        "ada",
        ("Claire Dubois", "claire@accounting.example"),
        b.at(3, 14),
        "Hi Claire,\n\nCould you check invoice 2026-114 from the job board? It seems to be charged twice.",
    )
    b.inbound(
        t,
        ("Claire Dubois", "claire@accounting.example"),
        "ada",
        b.at(2, 9, 15),
        "Hi Ada, you are right: I have asked them for a credit note.",
    )

    t = b.conversation("Your job board invoice")
    b.inbound(
        t,
        ("JobBoard Billing", "billing@jobboard.example"),
        "ada",
        b.at(20, 6),
        "Your invoice for October is available.",
        read_by=["ada", "rita", "sam"],
    )
    _archive(t, b.users["ada"], b.at(19))


def _incoming_cvs(b: DemoBuilder) -> None:
    domain = b.domain
    t = b.conversation("CV: Sofia Rossi, senior backend developer")
    b.inbound(
        t,
        ("Mark Evans", "mark@hireright-agency.example"),
        f"cv+backend-engineer@{domain}",
        b.at(0, 8, 30),
        "Hello,\n\nPlease find attached the CV of Sofia Rossi (sofia.rossi@example.com), a senior backend "
        "developer available in one month.\n\nMark Evans, HireRight Agency",
        attachments=[cv("Sofia Rossi")],
    )

    t = b.conversation("Referral: Paul's friend for the designer role")
    b.inbound(
        t,
        ("Paul Girard", "paul.girard@example.net"),
        f"cv+product-designer@{domain}",
        b.at(1, 19),
        "Hi! My friend Julie Blanc is a great product designer; her portfolio is attached.",
        attachments=[
            OutgoingFile("Julie_Blanc_portfolio.pdf", "application/pdf", tiny_pdf("Julie Blanc portfolio"))
        ],
    )

    t = b.conversation("Application: Data Analyst")
    b.inbound(
        t,
        ("Kenji Sato", "kenji.sato@example.com"),
        f"cv+data-analyst@{domain}",
        b.at(0, 3, 10),
        "Dear hiring team, I would like to apply for the Data Analyst role. CV attached.",
        attachments=[cv("Kenji Sato")],
    )

    t = b.conversation("Account Executive: my CV")
    b.inbound(
        t,
        ("Olivia Brown", "olivia.brown@example.org"),
        f"cv+account-executive@{domain}",
        b.at(2, 12),
        "Hello, here is my CV for the Account Executive position.",
        attachments=[cv("Olivia Brown")],
    )

    t = b.conversation("Spontaneous application")
    b.inbound(
        t,
        ("Ravi Patel", "ravi.patel@example.net"),
        f"cv@{domain}",
        b.at(1, 7),
        "Hello, I would love to join your company in any finance or operations role. CV attached.",
        attachments=[cv("Ravi Patel")],
    )

    t = b.conversation("CV: already processed")
    msg = b.inbound(
        t,
        ("Mark Evans", "mark@hireright-agency.example"),
        f"cv+backend-engineer@{domain}",
        b.at(10, 9),
        "An older CV that was already turned into a candidate.",
        attachments=[cv("Old Candidate")],
    )
    msg.cv_processed_at = b.at(9)


def _backlog(b: DemoBuilder) -> None:
    """Sixty older applications, acknowledged by the recruiter of the job, all read."""
    applications = []
    for i in range(60):
        first = BACKLOG_FIRST[i % len(BACKLOG_FIRST)]
        last = BACKLOG_LAST[(i * 3) % len(BACKLOG_LAST)]
        slug = ("backend-engineer", "data-analyst", "engineering-pool")[i % 3]
        c = Candidate(first_name=first, last_name=f"{last}-{i + 1}" if i >= 20 else last)
        c.emails = [CandidateEmail(email=f"{first}.{last}.{i + 1}@example.com".lower())]
        c.placements = [Placement(offer=b.offers[slug], stage="applied")]
        db.session.add(c)
        b.add_person(f"backlog-{i}", c)
        applications.append((i, first, b.offers[slug].title, "sam" if slug == "data-analyst" else "rita"))
    db.session.flush()
    for i, first, title, owner in applications:
        key = f"backlog-{i}"
        t = b.conversation(f"Application: {title}")
        days = 16 + i * 0.5
        b.inbound(
            t,
            key,
            owner,
            b.at(days, 9 + i % 8),
            f"Hello, please find my application for {title}.",
            attachments=[cv(b.addresses[key][0])],
            read_by=[owner, "ada"],
        )
        b.outbound(
            t,
            owner,
            key,
            b.at(days, 17),
            f"Hi {first}, thanks for your application. We will review it this week.",
        )


def _archive(conv: Conversation, user: User, when: datetime) -> None:
    thread = db.session.get_one(Thread, conv.thread_id)
    thread.is_archived = True
    thread.archived_at = when
    thread.archived_by_id = user.id


def _next_morning(now: datetime, tz: str, days: int) -> datetime:
    """9:00 local time, `days` days from now, in UTC."""
    local = now.astimezone(ZoneInfo(tz)) + timedelta(days=days)
    return local.replace(hour=9, minute=0, second=0, microsecond=0).astimezone(UTC)
