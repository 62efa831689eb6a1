"""Deterministic benchmark data: a team with a mailbox history, and a corpus of new raw mail.

`populate` fills an empty (migrated) database with chunked Core inserts: a team, ~30 offers,
candidates with addresses and placements, and `n_messages` existing messages in threads. No
blobs are written for those; only their rows matter to classification.
`new_mail` builds raw RFC 5322 messages with the stdlib, as they would arrive: candidate mail,
replies by header and by reply token, CVs with PDFs, non-candidate and bulk mail, auto-replies,
internal mail, DSN bounces, exact duplicates, and a couple of multi-megabyte attachments.
The same seed gives the same database and the same bytes.
"""

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import insert, text

from webapp.mail.addresses import bounce_address, reply_address
from webapp.models import (
    Candidate,
    CandidateEmail,
    CandidateFollow,
    Message,
    MessageRecipient,
    Offer,
    OfferAccess,
    OfferFollow,
    Placement,
    Thread,
    User,
)

DOMAIN = "mail.bench.test"
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # the existing history spans the months after this
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # the new mail arrives after it
CHUNK = 5000  # rows per executemany

FIRST = [
    "Léa",
    "Jonas",
    "Amara",
    "Wei",
    "Priya",
    "Diego",
    "Hannah",
    "Lucas",
    "Tom",
    "Nora",
    "Marta",
    "Kofi",
    "Inès",
    "Yuki",
    "Omar",
    "Sara",
    "Noah",
    "Elif",
    "Mateo",
    "Aino",
    "Sofia",
    "Liam",
    "Chloé",
    "Mohammed",
    "Fatima",
    "Jakub",
    "Anna",
    "Björn",
    "Chiara",
    "Luca",
    "Zoé",
    "Hugo",
    "Emma",
    "Ravi",
    "Mei",
    "Tariq",
    "Olga",
    "Pedro",
    "Ingrid",
    "Kwame",
    "Aisha",
    "Lars",
    "Nadia",
    "Paulo",
    "Greta",
    "Hiroshi",
    "Leila",
    "Tomás",
    "Eva",
    "Samir",
    "Julia",
]
LAST = [
    "Martin",
    "Becker",
    "Diallo",
    "Chen",
    "Nair",
    "Alvarez",
    "Schmidt",
    "Moreau",
    "Baker",
    "Haddad",
    "Silva",
    "Mensah",
    "Rossi",
    "Tanaka",
    "Farah",
    "Lind",
    "Keller",
    "Yilmaz",
    "Dubois",
    "Novak",
    "Müller",
    "García",
    "Kowalski",
    "Jensen",
    "Okafor",
    "Costa",
    "Petrov",
    "Nguyen",
    "Laurent",
    "Fischer",
    "Romano",
    "Sato",
    "Andersson",
    "Mendes",
    "Kim",
    "Horvat",
    "Bernard",
    "Weber",
    "Ferreira",
    "O'Brien",
    "Van",
    "Dijk",
    "Haas",
]
MAIL_DOMAINS = [
    "gmail.com",
    "gmail.com",
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.fr",
    "proton.me",
    "icloud.com",
    "web.de",
    "gmx.net",
    "orange.fr",
    "free.fr",
    "live.co.uk",
    "fastmail.com",
    "posteo.de",
]
JOBS = [
    "Backend Engineer (Python)",
    "Frontend Engineer (React)",
    "Product Designer",
    "Data Analyst",
    "Data Engineer",
    "Account Executive",
    "Head of Finance",
    "Site Reliability Engineer",
    "Engineering Manager",
    "QA Engineer",
    "Customer Success Manager",
    "Marketing Manager",
    "Content Designer",
    "Security Engineer",
    "iOS Engineer",
    "Android Engineer",
    "Technical Writer",
    "Sales Development Rep",
    "People Partner",
    "Office Manager",
    "Machine Learning Engineer",
    "Product Manager",
    "Solutions Engineer",
    "Legal Counsel",
    "Payroll Specialist",
]
POOLS = ["Engineering talent pool", "Design talent pool", "Sales talent pool", "Alumni", "Interns 2027"]
AGENCIES = [
    "talentbridge.example",
    "hirewell-partners.example",
    "nordic-recruit.example",
    "techsearch.example",
]
VENDORS = [
    ("LinkedIn", "jobs-noreply@linkedin.example"),
    ("Welcome to the Jungle", "news@wttj.example"),
    ("Office Supplies Co", "orders@officesupplies.example"),
    ("Payroll Partner", "support@payroll.example"),
    ("Event Team", "events@techmeetup.example"),
    ("Accounting", "invoices@accounting-firm.example"),
]
SENTENCES = [
    "Thank you for taking the time to speak with me yesterday.",
    "I am very interested in the position and would love to learn more about the team.",
    "Please find my availability for next week below.",
    "I could do Tuesday afternoon or Thursday morning, whichever suits you best.",
    "I have attached an updated version of my CV with my most recent project.",
    "Could you tell me a bit more about the interview process and who I will meet?",
    "I am currently on a three-month notice period, which could be negotiated.",
    "The take-home exercise was interesting; I left a few notes in the README.",
    "My salary expectations are in line with the range mentioned in the posting.",
    "I would be happy to provide references from my previous two employers.",
    "Is the role open to remote work, or is a hybrid schedule expected?",
    "I have spent the last four years building data pipelines and internal tools.",
    "Sorry for the late reply, I was travelling with limited access to email.",
    "Looking forward to hearing from you.",
    "Let me know if you need anything else from my side.",
    "We were impressed by your portfolio and would like to invite you to a first call.",
    "The next step is a 45-minute technical conversation with two engineers from the team.",
    "Please confirm the time slot that works for you and I will send a calendar invitation.",
    "We have decided to move forward with other candidates for this role.",
    "I am happy to share that the team would like to make you an offer.",
]
SIGNOFFS = ["Best regards,", "Kind regards,", "Thanks,", "Cheers,", "Best,", "Many thanks,"]
CLIENTS = [
    ("User-Agent", "Mozilla Thunderbird 128.4"),
    ("X-Mailer", "Apple Mail (2.3774.600.62)"),
    ("X-Mailer", "Microsoft Outlook 16.0"),
    ("User-Agent", "K-9 Mail for Android"),
    (None, None),  # Gmail's web client names itself nowhere
]


@dataclass
class World:
    """What `new_mail` needs to know about the database `populate` filled."""

    domain: str
    secret: str
    users: list[dict] = field(default_factory=list)  # id, email, name, local
    offers: list[dict] = field(default_factory=list)  # id, slug, title, kind
    candidates: list[dict] = field(default_factory=list)  # id, name, emails
    # Our sent messages, for replies and bounces: (db id, Message-ID, thread id, subject, user index,
    # candidate index or None, counterpart address).
    outbound: list[tuple] = field(default_factory=list)
    counts: dict = field(default_factory=dict)


@dataclass
class NewMail:
    kind: str  # what the generator meant it to be (the benchmark tallies outcomes beside it)
    raw: bytes
    envelope_to: list[str]


def _hex(rng: random.Random, n: int = 16) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _paragraphs(rng: random.Random, count: int) -> str:
    return "\n\n".join(" ".join(rng.sample(SENTENCES, rng.randint(2, 4))) for _ in range(count))


def _ascii_local(name: str) -> str:
    table = str.maketrans("éèëïöüäåøçñáíóúôàßÉÖÜÄÅ' ", "eeeiouaaocnaiouoasEOUAA--")
    return name.translate(table).lower()


def populate(conn, *, n_messages: int, n_candidates: int, seed: int, domain: str, secret: str) -> World:
    """Fill the empty schema on `conn` (a Connection inside a transaction) and describe it."""
    rng = random.Random(seed)
    world = World(domain=domain, secret=secret)
    rows: dict[str, list[dict]] = {t: [] for t in ("users", "offers", "access", "ofollow", "cfollow")}

    for i, (first, role) in enumerate(
        [
            ("Ada", "admin"),
            ("Rita", "recruiter"),
            ("Sam", "recruiter"),
            ("Nadia", "recruiter"),
            ("Pedro", "recruiter"),
        ],
        start=1,
    ):
        local = first.lower()
        user = {
            "id": i,
            "email": f"{local}@bench-company.example",
            "name": f"{first} {LAST[i]}",
            "local": local,
        }
        world.users.append(user)
        rows["users"].append(
            {
                "id": i,
                "email": user["email"],
                "name": user["name"],
                "password_hash": "!bench-no-login",
                "role": role,
                "inbound_local": local,
                "signature": f"{user['name']}\nTalent team, Bench Company",
                "timezone": "Europe/Paris",
                "locale": None,
                "is_active_user": True,
                "created_at": START,
            }
        )
    titles = [(t, "job") for t in JOBS] + [(t, "pool") for t in POOLS]
    for i, (title, kind) in enumerate(titles, start=1):
        slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-").replace("--", "-")
        world.offers.append({"id": i, "slug": slug, "title": title, "kind": kind})
        rows["offers"].append(
            {"id": i, "kind": kind, "title": title, "slug": slug, "is_open": True, "created_at": START}
        )
        # Recruiters each hold a share of the offers; the admin sees everything anyway.
        for user in rng.sample(world.users[1:], rng.randint(1, 2)):
            rows["access"].append({"user_id": user["id"], "offer_id": i})
        if rng.random() < 0.3:
            rows["ofollow"].append({"user_id": rng.randint(1, 5), "offer_id": i, "created_at": START})

    candidates, emails, placements = [], [], []
    email_id = 0
    for cid in range(1, n_candidates + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        addresses = [f"{_ascii_local(first)}.{_ascii_local(last)}{cid}@{rng.choice(MAIL_DOMAINS)}"]
        if rng.random() < 0.1:  # a work or second address
            addresses.append(f"{_ascii_local(first)[0]}{_ascii_local(last)}{cid}@{rng.choice(MAIL_DOMAINS)}")
        world.candidates.append({"id": cid, "name": f"{first} {last}", "emails": addresses})
        candidates.append({"id": cid, "first_name": first, "last_name": last, "created_at": START})
        for address in addresses:
            email_id += 1
            emails.append({"id": email_id, "candidate_id": cid, "email": address})
        for offer in rng.sample(world.offers, rng.choice((1, 1, 1, 2))):
            placements.append(
                {
                    "candidate_id": cid,
                    "offer_id": offer["id"],
                    "stage": rng.choice(("new", "screen", "interview", "offer", "hired", "rejected")),
                    "created_at": START,
                }
            )
        if rng.random() < 0.02:
            rows["cfollow"].append({"user_id": rng.randint(1, 5), "candidate_id": cid, "created_at": START})

    threads, messages, recipients = _history(rng, world, n_messages)
    for model, data in [
        (User, rows["users"]),
        (Offer, rows["offers"]),
        (OfferAccess, rows["access"]),
        (OfferFollow, rows["ofollow"]),
        (Candidate, candidates),
        (CandidateEmail, emails),
        (Placement, placements),
        (CandidateFollow, rows["cfollow"]),
        (Thread, threads),
        (Message, messages),
        (MessageRecipient, recipients),
    ]:
        # executemany in chunks: SQLite's executemany and PostgreSQL's "insertmanyvalues" batches
        # are ~20x faster than compiling a 500-row insert().values([...]) for every chunk.
        for start in range(0, len(data), CHUNK):
            conn.execute(insert(model.__table__), data[start : start + CHUNK])
    if conn.dialect.name == "postgresql":
        # Explicit ids leave the sequences behind; the ORM's inserts must not collide with them.
        for table in (
            "users",
            "offers",
            "candidates",
            "candidate_emails",
            "placements",
            "threads",
            "messages",
        ):
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )
    world.counts = {
        "users": len(world.users),
        "offers": len(world.offers),
        "candidates": len(candidates),
        "candidate_emails": len(emails),
        "threads": len(threads),
        "messages": len(messages),
    }
    return world


def _history(rng: random.Random, world: World, n_messages: int):
    """Threads of alternating outbound and inbound mail, oldest first, `n_messages` in all."""
    threads, messages, recipients = [], [], []
    span = (NOW - START).total_seconds()
    thread_id = 0
    while len(messages) < n_messages:
        thread_id += 1
        user_index = rng.randrange(len(world.users))
        user = world.users[user_index]
        roll = rng.random()
        if roll < 0.82:
            candidate_index = rng.randrange(len(world.candidates))
            candidate = world.candidates[candidate_index]
            other_name, other = candidate["name"], candidate["emails"][0]
            offer = rng.choice(world.offers)
            subject = rng.choice(
                [
                    f"Your application for {offer['title']}",
                    f"{offer['title']}: next steps",
                    "Interview availability",
                    f"Quick question about the {offer['title']} role",
                    "Following up",
                    "Take-home exercise",
                ]
            )
        else:
            candidate_index, candidate, offer = None, None, None
            vendor = rng.choice(VENDORS)
            other_name, other = vendor
            subject = rng.choice(["Invoice November", "Partnership proposal", "Event sponsorship", "Order"])
        at = START + timedelta(seconds=rng.random() * span * 0.97)
        length = min(1 + int(rng.expovariate(1 / 2.3)), 12, n_messages - len(messages))
        outbound_first = rng.random() < 0.55
        writers: set[int] = set()
        for position in range(length):
            is_outbound = (position % 2 == 0) == outbound_first
            message_db_id = len(messages) + 1
            if is_outbound:
                message_id = f"<{_hex(rng)}.{message_db_id}@{world.domain}>"
                writers.add(user["id"])
                world.outbound.append(
                    (message_db_id, message_id, thread_id, subject, user_index, candidate_index, other)
                )
            else:
                message_id = f"<{_hex(rng, 24)}@{other.rpartition('@')[2]}>"
            body = _paragraphs(rng, rng.randint(1, 3))
            messages.append(
                {
                    "id": message_db_id,
                    "thread_id": thread_id,
                    "direction": "outbound" if is_outbound else "inbound",
                    "status": "sent" if is_outbound else "received",
                    "message_id": message_id,
                    "in_reply_to": None if position == 0 else messages[-1]["message_id"],
                    "references": None if position == 0 else messages[-1]["message_id"],
                    "from_address": user["email"] if is_outbound else other,
                    "from_name": user["name"] if is_outbound else other_name,
                    "to_addresses": [other] if is_outbound else [f"{user['local']}@{world.domain}"],
                    "cc_addresses": [],
                    "bcc_addresses": [],
                    "subject": subject if position == 0 else f"Re: {subject}",
                    "snippet": body[:200],
                    "body_text": body,
                    "body_html": None,
                    "raw_sha256": hashlib.sha256(message_id.encode()).hexdigest(),
                    "raw_size": len(body) + 1500,
                    "has_attachments": False,
                    "candidate_id": candidate["id"] if candidate else None,
                    "sender_id": user["id"] if is_outbound else None,
                    "is_internal": False,
                    "is_auto_reply": False,
                    "is_cv": False,
                    "cv_offer_id": None,
                    "cv_processed_at": None,
                    "source": "compose" if is_outbound else "smtp",
                    "envelope_from": None,
                    "envelope_to": [],
                    "outcome": None if is_outbound else ("candidate" if candidate else "non_candidate"),
                    "outcome_reason": None,
                    "classified_at": None if is_outbound else at,
                    "defects": [],
                    "bounced_message_id": None,
                    "delivery_state": None,
                    "error": None,
                    "created_at": at,
                    "scheduled_at": None,
                    "sent_at": at if is_outbound else None,
                    "received_at": None if is_outbound else at,
                    "sort_at": at,
                }
            )
            if not is_outbound:
                recipients.append({"message_id": message_db_id, "user_id": user["id"]})
            at += timedelta(hours=rng.uniform(1, 72))
        threads.append(
            {
                "id": thread_id,
                "subject": subject,
                "candidate_id": candidate["id"] if candidate else None,
                "offer_id": offer["id"] if offer else None,
                "last_message_at": min(at, NOW),
                "is_archived": rng.random() < 0.15,
                "archived_at": None,
                "archived_by_id": None,
                "created_at": at,
            }
        )
    return threads, messages, recipients


def fake_pdf(rng: random.Random, size: int, title: str) -> bytes:
    """A PDF-shaped file of about `size` bytes: a header, one incompressible stream, a trailer."""
    head = f"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Title ({title}) >>\nendobj\n".encode("latin-1")
    stream = rng.randbytes(max(size - len(head) - 120, 16))  # compressed streams look random
    return (
        head
        + b"2 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
        + stream
        + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def _cv_size(rng: random.Random) -> int:
    """A few KB to a few hundred KB, log-uniform (most CVs are small; designers' are not)."""
    return int(2 ** rng.uniform(12, 18.6))


def fake_png(rng: random.Random, size: int) -> bytes:
    """A PNG-shaped image (a signature logo): the magic number, then incompressible bytes."""
    return b"\x89PNG\r\n\x1a\n" + rng.randbytes(size)


# Outlook's HTML head: font and style definitions it writes before every message.
OUTLOOK_HEAD = (
    '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:w="urn:schemas-microsoft-com:office:word" '
    'xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" '
    'xmlns="http://www.w3.org/TR/REC-html40"><head><meta http-equiv="Content-Type" content="text/html; '
    'charset=utf-8"><meta name="Generator" content="Microsoft Word 15 (filtered medium)"><style><!--\n'
    + "".join(
        f'@font-face\n\t{{font-family:"{font}";\n\tpanose-1:{panose};}}\n'
        for font, panose in [
            ("Cambria Math", "2 4 5 3 5 4 6 3 2 4"),
            ("Calibri", "2 15 5 2 2 2 4 3 2 4"),
            ("Aptos", "2 11 0 4 2 2 2 2 2 4"),
            ("Segoe UI", "2 11 5 2 4 2 4 2 2 3"),
        ]
    )
    + "/* Style Definitions */\np.MsoNormal, li.MsoNormal, "
    "div.MsoNormal\n\t{margin:0cm;\n\tfont-size:11.0pt;\n"
    '\tfont-family:"Aptos",sans-serif;\n\tmso-ligatures:standardcontextual;\n\tmso-fareast-language:EN-US;}\n'
    "a:link, span.MsoHyperlink\n\t{mso-style-priority:99;\n\tcolor:#467886;\n\ttext-decoration:underline;}\n"
    "a:visited, span.MsoHyperlinkFollowed\n\t{mso-style-priority:99;\n\tcolor:#96607D;\n"
    "\ttext-decoration:underline;}\np.MsoListParagraph, li.MsoListParagraph, div.MsoListParagraph\n"
    "\t{mso-style-priority:34;\n\tmargin-top:0cm;\n\tmargin-right:0cm;\n\tmargin-bottom:0cm;\n"
    '\tmargin-left:36.0pt;\n\tfont-size:11.0pt;\n\tfont-family:"Aptos",sans-serif;}\n'
    'span.EmailStyle19\n\t{mso-style-type:personal-reply;\n\tfont-family:"Aptos",sans-serif;\n'
    "\tcolor:windowtext;}\n.MsoChpDefault\n\t{mso-style-type:export-only;\n\tfont-size:10.0pt;\n"
    "\tmso-ligatures:none;}\n@page WordSection1\n\t{size:612.0pt 792.0pt;\n"
    "\tmargin:72.0pt 72.0pt 72.0pt 72.0pt;}\ndiv.WordSection1\n\t{page:WordSection1;}\n--></style>"
    '<!--[if gte mso 9]><xml>\n<o:shapedefaults v:ext="edit" spidmax="1026" />\n</xml><![endif]-->'
    '<!--[if gte mso 9]><xml>\n<o:shapelayout v:ext="edit">\n<o:idmap v:ext="edit" data="1" />\n'
    "</o:shapelayout></xml><![endif]--></head>"
)
DISCLAIMER = (
    "This e-mail and any attachments are confidential and intended solely for the addressee. If you "
    "have received it in error, please notify the sender and delete it. Any views expressed are those "
    "of the sender and not necessarily of the company. We process personal data in accordance with our "
    "privacy notice; candidates may ask at any time for their data to be removed from our systems."
)
# How senders' mail clients shape what they send, by kind of sender.
CLIENT_WEIGHTS = {
    "person": (("gmail", 0.5), ("apple", 0.2), ("outlook", 0.15), ("plain", 0.15)),
    "business": (("outlook", 0.6), ("gmail", 0.3), ("plain", 0.1)),
}


@dataclass
class Quoted:
    """An earlier message of the conversation, as a reply quotes it."""

    name: str
    address: str
    at: datetime
    paragraphs: list[str]


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote_text(history: list[Quoted]) -> str:
    """Plain-text quoting: each older message one '>' deeper."""
    out = ""
    for depth, q in enumerate(history, start=1):
        lines = [f"On {format_datetime(q.at)}, {q.name} <{q.address}> wrote:", ""]
        lines += [line for p in q.paragraphs for line in (p, "")]
        out += "\n\n" + "\n".join(">" * (depth - 1) + (" " if depth > 1 else "") + line for line in lines)
    return "\n".join(("> " + line if line else ">") for line in out.splitlines()) if out else ""


def _html(
    client: str, paragraphs: list[str], signature: list[str], logo_cid: str | None, history: list[Quoted]
) -> str:
    """The text/html alternative a client of this kind would send."""
    sig = "<br>".join(_esc(line) for line in signature)
    logo = f'<img src="cid:{logo_cid}" width="160" height="48" alt="logo">' if logo_cid else ""
    quoted = ""
    for q in reversed(history):  # the oldest innermost
        body = "".join(f"<div>{_esc(p)}</div><div><br></div>" for p in q.paragraphs)
        attr = f"On {format_datetime(q.at)}, {_esc(q.name)} &lt;{q.address}&gt; wrote:"
        if client == "outlook":
            quoted = (
                '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
                f'<p class="MsoNormal"><b><span lang="EN-US">From:</span></b><span lang="EN-US"> '
                f"{_esc(q.name)} "
                f"&lt;{q.address}&gt;<br><b>Sent:</b> {format_datetime(q.at)}</span></p></div>"
                f'<p class="MsoNormal"><o:p>&nbsp;</o:p></p>{body}{quoted}'
            )
        else:
            quoted = (
                f'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">{attr}<br></div>'
                '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
                f'rgb(204,204,204);padding-left:1ex">{body}{quoted}</blockquote></div>'
            )
    if client == "outlook":
        text = "".join(
            f'<p class="MsoNormal"><span lang="EN-US" '
            f'style="font-size:11.0pt">{_esc(p)}</span><o:p></o:p></p>'
            '<p class="MsoNormal"><span lang="EN-US"><o:p>&nbsp;</o:p></span></p>'
            for p in paragraphs
        )
        return (
            f'{OUTLOOK_HEAD}<body lang="EN-GB" link="#467886" vlink="#96607D" style="word-wrap:break-word">'
            f'<div class="WordSection1">{text}<table class="MsoNormalTable" border="0" cellspacing="0" '
            f'cellpadding="0"><tr><td style="padding:0cm 8pt 0cm 0cm">{logo}</td><td><p class="MsoNormal">'
            f'<span style="font-size:9.0pt;color:#595959">{sig}</span></p></td></tr></table>'
            f'<p class="MsoNormal"><o:p>&nbsp;</o:p></p>{quoted}</div></body></html>'
        )
    text = "".join(f"<div>{_esc(p)}</div><div><br></div>" for p in paragraphs)
    if client == "apple":
        style = "overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;"
        quoted = quoted.replace('class="gmail_quote"', 'type="cite"')
        return (
            '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
            f'<body style="{style}">{text}<div>{sig}</div>{logo}<br>{quoted}</body></html>'
        )
    return (
        f'<div dir="ltr">{text}<span class="gmail_signature_prefix">-- </span><br><div dir="ltr" '
        f'class="gmail_signature">{logo}<div>{sig}</div></div></div>{quoted}'
    )


def _newsletter(rng: random.Random, title: str) -> tuple[str, str]:
    """A job-board digest: a table of cards in HTML, and its text version."""
    cards, lines = [], []
    for _ in range(rng.randint(6, 18)):
        job, city = rng.choice(JOBS), rng.choice(["Paris", "Berlin", "Lisbon", "Remote", "London"])
        link = f"https://jobs.example/view/{_hex(rng, 10)}?utm_source=digest&utm_medium=email"
        cards.append(
            '<tr><td style="padding:16px 24px;border-bottom:1px solid #e6e6e6;font-family:Helvetica,Arial,'
            f'sans-serif"><a href="{link}" '
            f'style="color:#0a66c2;font-size:16px;font-weight:600;text-decoration:'
            f'none">{_esc(job)}</a><p style="margin:4px 0;color:#666;font-size:13px">{city} &middot; '
            f'{rng.randint(3, 60)} applicants</p><p style="margin:8px 0 0;color:#333;font-size:14px;'
            f'line-height:20px">{_esc(" ".join(rng.sample(SENTENCES, 2)))}</p></td></tr>'
        )
        lines.append(f"{job} - {city}\n{link}\n")
    html = (
        '<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width"><style>'
        "@media only screen and (max-width:600px){.container{width:100%!important}}</style></head>"
        '<body style="margin:0;background:#f3f2ef"><table class="container" width="600" align="center" '
        'cellpadding="0" cellspacing="0" style="background:#fff"><tr><td style="padding:24px"><img '
        f'src="https://static.jobs.example/logo.png" width="120" alt=""><h1 '
        f'style="font-size:20px">{_esc(title)}'
        f'</h1></td></tr>{"".join(cards)}<tr><td style="padding:24px;font-size:12px;color:#999">You receive '
        'this email because you subscribed. <a href="https://jobs.example/unsubscribe">Unsubscribe</a>'
        "</td></tr></table></body></html>"
    )
    return html, f"{title}\n\n" + "\n".join(lines) + "\nUnsubscribe: https://jobs.example/unsubscribe"


class _Writer:
    """Builds one kind of message after another, sharing the clock and the random stream."""

    def __init__(self, world: World, seed: int):
        self.world, self.rng = world, random.Random(seed)
        self.at = NOW
        self.counter = 0

    def history(self, them: tuple[str, str], us: tuple[str, str]) -> list[Quoted]:
        """The earlier messages a reply quotes, newest first, alternating between both sides."""
        rng, out = self.rng, []
        at = self.at - timedelta(days=rng.uniform(1, 20))
        for depth in range(min(1 + int(rng.expovariate(1 / 1.3)), 6)):
            name, address = us if depth % 2 == 0 else them
            out.append(Quoted(name, address, at, _paragraphs(self.rng, rng.randint(1, 3)).split("\n\n")))
            at -= timedelta(hours=rng.uniform(2, 96))
        return out

    def message(
        self,
        frm: tuple[str, str],
        to: list[tuple[str, str]],
        subject: str,
        *,
        sender: str = "person",
        history: list[Quoted] = (),
        **kw,
    ) -> EmailMessage:
        """A message as received: trace headers, the client's text and HTML, logo, attachments."""
        rng = self.rng
        self.counter += 1
        self.at += timedelta(seconds=rng.uniform(1, 30))
        msg = EmailMessage()
        host = frm[1].rpartition("@")[2]
        # Trace and authentication headers, as a receiving MTA sees them.
        msg["Return-Path"] = f"<{frm[1]}>"
        for hop in range(rng.randint(1, 3)):
            msg["Received"] = (
                f"from mx{hop}.{host} (mx{hop}.{host} [192.0.2.{rng.randint(1, 254)}]) by "
                f"mx.{self.world.domain} "
                f"with ESMTPS id {_hex(rng, 12)} for <{to[0][1]}>; {format_datetime(self.at)}"
            )
        msg["DKIM-Signature"] = (
            f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={host}; s=s1; h=from:to:subject:date:message-id; "
            f"bh={_hex(rng, 44)}=; b={_hex(rng, 64)}{_hex(rng, 64)}"
        )
        msg["From"] = f"{frm[0]} <{frm[1]}>" if frm[0] else frm[1]
        msg["To"] = ", ".join(f"{n} <{a}>" if n else a for n, a in to)
        if kw.get("cc"):
            msg["Cc"] = ", ".join(f"{n} <{a}>" for n, a in kw["cc"])
        msg["Subject"] = subject
        msg["Date"] = format_datetime(self.at)
        msg["Message-ID"] = f"<{_hex(rng, 20)}.{self.counter}@{host}>"
        if kw.get("in_reply_to"):
            msg["In-Reply-To"] = kw["in_reply_to"]
            msg["References"] = kw.get("references") or kw["in_reply_to"]
        msg["MIME-Version"] = "1.0"
        for header, value in kw.get("headers", {}).items():
            msg[header] = value
        if kw.get("newsletter"):
            html, text = _newsletter(rng, subject)
            msg.set_content(text)
            msg.add_alternative(html, subtype="html")
            return msg
        kinds, weights = zip(*CLIENT_WEIGHTS[sender], strict=True)
        client = kw.get("client") or rng.choices(kinds, weights)[0]
        msg[
            {"outlook": "X-Mailer", "apple": "X-Mailer", "plain": "User-Agent"}.get(client, "X-Gm-Features")
        ] = {
            "outlook": "Microsoft Outlook 16.0",
            "apple": "Apple Mail (2.3774.600.62)",
            "plain": "Mozilla Thunderbird 128.4",
        }.get(client, _hex(rng, 24))
        paragraphs = (kw.get("body") or _paragraphs(rng, rng.randint(1, 4))).split("\n\n")
        signature = [rng.choice(SIGNOFFS), frm[0]]
        if sender == "business":
            signature += [
                rng.choice(["Senior Consultant", "Talent Partner", "Account Manager"]),
                f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} 00",
                f"www.{host}",
                "",
                DISCLAIMER,
            ]
        elif rng.random() < 0.4:
            signature.append(f"linkedin.com/in/{_ascii_local(frm[0].replace(' ', '-'))}")
        text = "\n\n".join(paragraphs) + "\n\n" + "\n".join(signature) + _quote_text(list(history))
        msg.set_content(text)
        logo = None
        if client != "plain":
            has_logo = rng.random() < (0.6 if sender == "business" else 0.03)
            logo = f"logo{_hex(rng, 8)}@{host}" if has_logo else None
            msg.add_alternative(_html(client, paragraphs, signature, logo, list(history)), subtype="html")
            if logo:
                msg.get_payload()[1].add_related(
                    fake_png(rng, rng.randint(4000, 20000)), maintype="image", subtype="png", cid=f"<{logo}>"
                )
        for filename, ctype, data in kw.get("files", []):
            maintype, _, subtype = ctype.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        return msg

    def user_address(self, user: dict) -> tuple[str, str]:
        return user["name"], f"{user['local']}@{self.world.domain}"


def _bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=policy.SMTP)  # CRLF line ends, as on the wire


MIX = (
    ("candidate", 0.23),  # a candidate writing to a recruiter's personal address
    ("reply_headers", 0.24),  # answering our mail: In-Reply-To and References
    ("reply_token", 0.08),  # answering our mail to its reply+ address (some without In-Reply-To)
    ("cv_job", 0.10),  # an agency or an applicant sending a CV to a job's CV address
    ("cv_company", 0.02),  # ... or to the company CV inbox
    ("non_candidate", 0.13),  # agencies' sales, vendors, people not in the candidate database
    ("bulk", 0.04),  # job-board digests and newsletters
    ("auto_reply", 0.06),  # out-of-office answers to our mail
    ("internal", 0.04),  # team members writing to each other
    ("bounce", 0.01),  # delivery status notifications for our mail
    ("duplicate", 0.01),  # the same bytes delivered twice
)


def new_mail(world: World, n: int, *, seed: int, big_sizes=(6_000_000, 9_000_000)) -> list[NewMail]:
    """`n` raw messages (plus the big ones), in arrival order."""
    w = _Writer(world, seed)
    rng = w.rng
    kinds, weights = zip(*MIX, strict=True)
    out: list[NewMail] = []
    big_at = {n // 3: big_sizes[0], (2 * n) // 3: big_sizes[1]} if big_sizes else {}
    while len(out) < n + len(big_at):
        if len(out) in big_at:
            out.append(_big(w, big_at.pop(len(out))))
            continue
        kind = rng.choices(kinds, weights)[0]
        if kind == "duplicate" and not out:
            kind = "candidate"
        out.append(_make(w, kind, out))
    return out


def _candidate(w: _Writer) -> tuple[dict, tuple[str, str]]:
    c = w.rng.choice(w.world.candidates)
    return c, (c["name"], w.rng.choice(c["emails"]))


def _candidate_mail(w: _Writer, kind: str) -> NewMail:
    """A candidate writing to a team member, now and then with a CV or a Cc."""
    rng, world = w.rng, w.world
    users = world.users
    c, frm = _candidate(w)
    user = rng.choice(users)
    files = []
    if rng.random() < 0.12:
        files.append(
            (
                f"{c['name'].replace(' ', '_')}_CV.pdf",
                "application/pdf",
                fake_pdf(rng, _cv_size(rng), c["name"]),
            )
        )
    cc = [w.user_address(rng.choice(users))] if rng.random() < 0.1 else []
    msg = w.message(
        frm,
        [w.user_address(user)],
        rng.choice(
            [
                "Application",
                "Question about the role",
                "My availability",
                "Updated CV",
                "Thank you!",
                "Reference contacts",
                "Portfolio link",
                "Regarding my notice period",
            ]
        ),
        files=files,
        cc=cc,
    )
    return NewMail(kind, _bytes(msg), [f"{user['local']}@{world.domain}"])


def _make(w: _Writer, kind: str, so_far: list[NewMail]) -> NewMail:
    rng, world = w.rng, w.world
    users = world.users
    if kind == "duplicate":  # the same bytes again: a retried delivery
        original = rng.choice(so_far[-200:])
        return NewMail("duplicate", original.raw, original.envelope_to)
    if kind == "candidate":
        return _candidate_mail(w, kind)
    if kind in ("reply_headers", "reply_token", "auto_reply", "bounce"):
        # Someone answering (or bouncing) one of our sent messages.
        db_id, message_id, thread_id, subject, user_index, candidate_index, other = rng.choice(world.outbound)
        user = users[user_index]
        name = world.candidates[candidate_index]["name"] if candidate_index is not None else ""
        frm = (name, other)
        sender = "person" if candidate_index is not None else "business"
        if kind == "bounce":
            return NewMail(kind, _dsn(w, message_id, other, user, db_id), [])
        if kind == "auto_reply":
            msg = w.message(
                frm,
                [w.user_address(user)],
                f"Out of office: Re: {subject}",
                sender=sender,
                body="I am out of the office until Monday with limited access to email.",
                in_reply_to=message_id,
                headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
            )
            return NewMail(kind, _bytes(msg), [f"{user['local']}@{world.domain}"])
        files = []
        if rng.random() < 0.06:
            files.append(("references.pdf", "application/pdf", fake_pdf(rng, _cv_size(rng) // 2, name)))
        if kind == "reply_token":
            to = [("", reply_address(thread_id, world.domain, world.secret))]
            # Some clients drop In-Reply-To; the token alone must find the conversation.
            kw = {"in_reply_to": message_id} if rng.random() < 0.5 else {}
        else:
            to = [w.user_address(user)]
            kw = {"in_reply_to": message_id, "references": f"<{_hex(rng)}@{world.domain}> {message_id}"}
        history = w.history(frm, (user["name"], user["email"]))
        msg = w.message(frm, to, f"Re: {subject}", sender=sender, history=history, files=files, **kw)
        return NewMail(kind, _bytes(msg), [to[0][1]])
    if kind in ("cv_job", "cv_company"):
        offer = rng.choice([o for o in world.offers if o["kind"] == "job"])
        to = f"cv+{offer['slug']}@{world.domain}" if kind == "cv_job" else f"cv@{world.domain}"
        applicant = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if rng.random() < 0.5:
            sender = "business"
            frm = (
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                f"consultant{rng.randint(1, 40)}@{rng.choice(AGENCIES)}",
            )
            subject = f"Candidate for {offer['title']}: {applicant}"
        else:
            sender = "person"
            frm = (applicant, f"{_ascii_local(applicant.replace(' ', '.'))}{rng.randint(1, 999)}@gmail.com")
            subject = f"Application: {offer['title']}"
        files = [
            (
                f"{applicant.replace(' ', '_')}_CV.pdf",
                "application/pdf",
                fake_pdf(rng, _cv_size(rng), applicant),
            )
        ]
        if rng.random() < 0.2:
            files.append(
                ("Cover_letter.pdf", "application/pdf", fake_pdf(rng, _cv_size(rng) // 4, applicant))
            )
        msg = w.message(frm, [("", to)], subject, sender=sender, files=files)
        return NewMail(kind, _bytes(msg), [to])
    if kind in ("non_candidate", "bulk"):
        user = rng.choice(users)
        if kind == "bulk":
            vendor = rng.choice(VENDORS)
            domain = vendor[1].rpartition("@")[2]
            headers = {
                "List-Id": f"<news.{domain}>",
                "List-Unsubscribe": f"<mailto:unsubscribe@{domain}>",
                "Precedence": "bulk",
            }
            subject = rng.choice(
                ["This week in hiring", "New candidates match your job", "Your monthly report"]
            )
            msg = w.message(vendor, [w.user_address(user)], subject, headers=headers, newsletter=True)
        else:
            frm = (
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                f"contact{rng.randint(1, 5000)}@{rng.choice(AGENCIES)}",
            )
            files = []
            if rng.random() < 0.1:
                files.append(("proposal.pdf", "application/pdf", fake_pdf(rng, _cv_size(rng), "Proposal")))
            subject = rng.choice(
                ["Partnership proposal", "Recruitment services", "Invoice", "Meeting next week?"]
            )
            msg = w.message(frm, [w.user_address(user)], subject, sender="business", files=files)
        return NewMail(kind, _bytes(msg), [f"{user['local']}@{world.domain}"])
    if kind == "internal":
        author, to_user = rng.sample(users, 2)
        subject = rng.choice(
            [
                "Feedback on today's interviews",
                "Can you cover my Friday calls?",
                "Offer approval",
                "Headcount update",
            ]
        )
        msg = w.message(
            (author["name"], author["email"]), [w.user_address(to_user)], subject, sender="business"
        )
        return NewMail(kind, _bytes(msg), [f"{to_user['local']}@{world.domain}"])
    raise ValueError(kind)


def _dsn(w: _Writer, original_id: str, recipient: str, user: dict, db_id: int) -> bytes:
    """A multipart/report delivery-status notification to our VERP address, as Postfix sends it."""
    rng, world = w.rng, w.world
    verp = bounce_address(db_id, world.domain, world.secret)
    w.at += timedelta(seconds=rng.uniform(1, 30))
    status, diagnostic = rng.choice(
        [
            ("5.1.1", "550 5.1.1 The email account that you tried to reach does not exist"),
            ("5.2.2", "552 5.2.2 Mailbox full"),
            ("4.4.7", "Delivery time expired"),
        ]
    )
    report = (
        f"Reporting-MTA: dns; mx.{world.domain}\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\n"
        f"Action: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n"
    )
    raw = (
        f"Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.{world.domain}>\r\n"
        f"To: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        f"Date: {format_datetime(w.at)}\r\nMessage-ID: "
        f"<{_hex(rng, 20)}@mx.{world.domain}>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n\r\n'
        "--BOUND\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"--BOUND\r\nContent-Type: message/delivery-status\r\n\r\n{report}\r\n"
        "--BOUND\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {user['email']}\r\nTo: {recipient}\r\nMessage-ID: {original_id}\r\nSubject: Hello\r\n\r\n"
        "--BOUND--\r\n"
    )
    return raw.encode()


def _big(w: _Writer, size: int) -> NewMail:
    """A candidate sending a multi-megabyte portfolio: the message that sets the memory bound."""
    c, frm = _candidate(w)
    user = w.rng.choice(w.world.users)
    files = [
        (f"{c['name'].replace(' ', '_')}_portfolio.pdf", "application/pdf", fake_pdf(w.rng, size, c["name"]))
    ]
    msg = w.message(frm, [w.user_address(user)], "My portfolio", client="gmail", files=files)
    return NewMail("big", _bytes(msg), [f"{user['local']}@{w.world.domain}"])
