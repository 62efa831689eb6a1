"""The authorization matrix, generated from the app's URL map.

Every route that names an object in its path (a conversation, a message, a candidate, an offer, a
template, a bulk send, a user) has an entry in MATRIX: the URL of an object that Sam, a recruiter
on another job, must not see. Sam asks for it with GET and with the route's own method and a valid
CSRF token, and gets 404 (the answer a missing object gets: existence is secret), and nothing in
the database changes. Every other route is named in WITHOUT_OBJECT with the reason it has no
object to protect. A new route in neither makes `test_every_route_is_in_the_matrix` fail.

Then, on every state-changing route: no CSRF token, or another session's token, is refused (400)
and changes nothing. And no GET changes anything, even for a user allowed to see the object
(opening a conversation does not mark it read: the page POSTs that).

The audit log is left out of "changes": it records reads too (an admin's downloads, say).
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests.conftest import AuthActions
from tests.helpers import add_mailbox
from webapp.extensions import db
from webapp.models import BulkSend, CvShare, Direction, Template, User
from webapp.models.types import utcnow


@dataclass
class World:
    """Rita's objects on the Backend job; Sam works on Sales only; Ada is an admin."""

    ids: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.ids[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


@pytest.fixture
def world(app, make, make_team) -> World:
    team = make_team(
        offers={"job": "Backend", "sales": "Sales"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["job"], "Sam Recruiter": ["sales"]},
        candidates={"Alice Able": ["job"]},
    )
    w = World()
    w.ids.update(ada=team.ada, rita=team.rita, sam=team.sam)
    thread = make.thread("Interview", candidate=team.alice, offer=team.job)
    inbound = make.message(thread, candidate=team.alice, to_users=[team.rita], attachment="cv.pdf")
    scheduled = make.message(
        thread,
        direction=Direction.OUTBOUND,
        sender=team.rita,
        candidate=team.alice,
        status="scheduled",
        at=utcnow() + timedelta(days=1),
    )
    draft = make.message(
        thread, direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice, status="draft"
    )
    # Mail between team members is private to them (non-candidate mail is the whole team's).
    internal = make.message(
        to_users=[team.rita], subject="Between us", from_address="ada@team.test", is_internal=True
    )
    cv = make.message(subject="A CV", is_cv=True, cv_offer_id=team.job.id, from_address="cv@agency.test")
    with app.app_context():
        from webapp.models import Attachment
        from webapp.services import blob_store

        attachment = db.session.scalars(select(Attachment).where(Attachment.message_id == inbound.id)).one()
        attachment.sha256 = blob_store().put(b"%PDF-1.4 Alice's CV")
        inbound_row = db.session.get(type(inbound), inbound.id)
        inbound_row.raw_sha256 = blob_store().put(b"Subject: Interview\r\n\r\nHello\r\n")
        template = Template(name="Rita's own", subject="Hi", body="Hello", owner_id=team.rita.id)
        bulk = BulkSend(user_id=team.rita.id, subject="Hello all", total=1)
        share = CvShare(
            candidate_id=team.alice.id,
            token_hash="0" * 64,
            created_by_id=team.rita.id,
            expires_at=utcnow() + timedelta(days=14),
        )
        jobs = add_mailbox(team.ada, shared=True, name="Jobs", username="jobs@team.test")
        db.session.add_all([template, bulk, share, jobs])
        db.session.commit()
        w.ids.update(
            thread=thread.id,
            inbound=inbound.id,
            attachment=attachment.id,
            scheduled=scheduled.id,
            draft=draft.id,
            internal_thread=internal.thread_id,
            cv_thread=cv.thread_id,
            candidate=team.alice.id,
            offer=team.job.id,
            template=template.id,
            bulk=bulk.id,
            share=share.id,
            shared_mailbox=jobs.id,
        )
    return w


@dataclass
class Case:
    """One object-bearing URL, and the method(s) that change it (besides GET)."""

    url: str  # formatted with the World's ids
    methods: tuple[str, ...] = ("POST",)
    expect: int = 404  # 403 only where existence is no secret (none so far)
    data: dict = field(default_factory=dict)
    owner: str = "rita"  # who may see it (the no-change-on-GET check signs in as them)


# endpoint -> the cases that exercise it (each URL names an object Sam must not see).
MATRIX: dict[str, list[Case]] = {
    "admin.raw": [Case("/admin/messages/{inbound}/raw", methods=(), owner="ada")],
    "admin.offer_access": [Case("/admin/offers/{offer}/access", data={"user_id": "{sam.id}"}, owner="ada")],
    "admin.set_active": [Case("/admin/users/{rita.id}/active", data={"active": "0"}, owner="ada")],
    "admin.reset_password": [Case("/admin/users/{rita.id}/password", owner="ada")],
    "mailbox.attachment": [Case("/attachments/{attachment}", methods=())],
    "mailbox.message_body": [Case("/mail/messages/{inbound}/body", methods=())],
    "mailbox.conversation": [
        Case(f"/mail/{slug}/{{thread}}", methods=()) for slug in ("inbox", "candidates", "archived")
    ],
    "mailbox.archive": [Case("/mail/inbox/{thread}/archive"), Case("/mail/inbox/{thread}/unarchive")],
    "mailbox.read_state": [Case("/mail/inbox/{thread}/read"), Case("/mail/inbox/{thread}/unread")],
    "people.candidate_page": [Case("/candidates/{candidate}", methods=())],
    "people.offer_page": [Case("/offers/{offer}", methods=())],
    "people.follow": [
        Case("/candidates/{candidate}/follow"),
        Case("/candidates/{candidate}/unfollow"),
        Case("/offers/{offer}/follow"),
        Case("/offers/{offer}/unfollow"),
    ],
    "people.convert": [
        Case(
            "/mail/inbox/{internal_thread}/convert",
            data={"email": "ada@team.test", "first_name": "Ada", "last_name": "Admin"},
        )
    ],
    "people.attach": [
        Case(
            "/mail/inbox/{internal_thread}/attach",
            data={"candidate_id": "{candidate}", "email": "ada@team.test"},
        )
    ],
    "people.cv_to_candidate": [
        Case(
            "/mail/incoming-cv/{cv_thread}/candidate",
            data={"email": "cv@agency.test", "first_name": "Cy", "last_name": "Vee", "offer_id": "{offer}"},
        )
    ],
    "people.discard_cv": [Case("/mail/incoming-cv/{cv_thread}/discard")],
    "compose.reply": [Case("/compose/reply/{inbound}", methods=())],
    "compose.forward": [Case("/compose/forward/{inbound}", methods=())],
    "compose.edit": [Case("/compose/edit/{scheduled}", data={"subject": "Changed", "body": "Changed"})],
    "compose.message_action": [
        Case(f"/messages/{{scheduled}}/{action}")
        for action in ("cancel", "send-now", "retry", "mark-sent", "release")
    ],
    "compose.undo_send": [Case("/messages/{scheduled}/undo")],
    "compose.settled": [Case("/messages/{scheduled}/settled", methods=())],
    "compose.open_draft": [Case("/compose/draft/{draft}", methods=())],
    "compose.delete_draft": [Case("/compose/draft/{draft}/delete")],
    "bulk.show": [Case("/bulk/{bulk}", methods=())],
    "bulk.cancel": [Case("/bulk/{bulk}/cancel")],
    "mailtemplates.edit": [Case("/templates/{template}/edit", data={"name": "Mine now", "subject": "x"})],
    "mailtemplates.delete": [Case("/templates/{template}/delete")],
    "compose.after_away": [Case("/messages/{scheduled}/after-away")],
    "privacy.erase_candidate": [Case("/candidates/{candidate}/erase", data={"confirm_name": "Alice Able"})],
    "privacy.export_candidate": [Case("/candidates/{candidate}/export")],
    "privacy.create_share": [Case("/candidates/{candidate}/shares", data={"section": "profile"})],
    "privacy.revoke_share": [Case("/candidates/{candidate}/shares/{share}/revoke")],
    "mailbox_sync.share_mailbox": [
        Case("/settings/shared-mailboxes/{shared_mailbox}/users", data={"users": "{sam.id}"}, owner="ada")
    ],
    "mailbox_sync.disconnect_shared": [
        Case("/settings/shared-mailboxes/{shared_mailbox}/disconnect", owner="ada")
    ],
}

# endpoint -> why it has no object of someone else's to protect.
WITHOUT_OBJECT: dict[str, str] = {
    "static": "public files",
    "auth.login": "public: the sign-in form",
    "auth.logout": "the user's own session",
    "main.healthz": "public probe, says nothing",
    "main.readyz": "public probe, no names or URLs",
    "main.metrics": "token or the host itself (tests/test_metrics.py)",
    "main.set_language": "the user's own setting",
    "account.settings": "the user's own settings page",
    "account.save_profile": "the user's own settings (tests/test_settings.py)",
    "account.change_password": "the user's own password, the current one asked (tests/test_settings.py)",
    "receiving.raw": "signed by the provider, no session (tests/test_inbound.py)",
    "mailbox.index": "a redirect to the inbox",
    "mailbox.folder": "a folder of the user's own view (slug, not an object)",
    "mailbox.search": "searches what the user may see (tests/test_search.py)",
    "people.search_candidates": "searches what the user may see (tests/test_people.py)",
    "compose.new": "a blank form",
    "compose.send": "ids in the form are checked like the reply/forward routes (tests/test_compose.py)",
    "compose.preview": "the user's own draft",
    "compose.save_draft": "writes the user's own draft only (another's id: refused, tests/test_drafts.py)",
    "compose.insert_template": "usable templates only (tests/test_mailtemplates.py)",
    "bulk.new": "the form, with the user's own offers",
    "bulk.summary": "visible candidates only (tests/test_bulk.py)",
    "bulk.create": "visible candidates only (tests/test_bulk.py)",
    "bulk.template_fields": "usable templates only (tests/test_bulk.py)",
    "mailtemplates.index": "the user's own and shared templates",
    "mailtemplates.new": "creates the user's own template",
    "admin.users": "admins only (404 for others: tests/test_admin.py)",
    "admin.offers": "admins only (404 for others)",
    "admin.quarantine": "admins only (404 for others)",
    "admin.queues": "admins only (404 for others)",
    "admin.requeue": "admins only (404 for others)",
    "admin.audit_log": "admins only (404 for others: tests/test_audit.py)",
    "admin.retention_page": "admins only (404 for others: tests/test_retention.py)",
    "privacy.shared_cv": "public by an unguessable token, no session (tests/test_shares.py)",
    "privacy.shared_file": "public by an unguessable token, no session (tests/test_shares.py)",
    "mailbox_sync.mailbox": "the user's own mailbox connection",
    "mailbox_sync.save": "the user's own mailbox connection",
    "mailbox_sync.test": "the user's own mailbox connection (saves nothing)",
    "mailbox_sync.sync_now": "the user's own mailbox connection",
    "mailbox_sync.disconnect": "the user's own mailbox connection",
    "mailbox_sync.oauth_start": "the user's own mailbox connection; a configured provider (else 404)",
    "mailbox_sync.oauth_callback": "the flow this user's session started: its state must match (else 400)",
    "mailbox_sync.shared_mailboxes": "admins only (404 for others: tests/test_shared_mailboxes.py)",
    "mailbox_sync.connect_shared": "admins only (404 for others)",
    "mailbox_sync.oauth_start_shared": "admins only (404 for others); a configured provider",
    "mailbox_sync.progress": "the user's own mailbox connection's sync progress",
}

# Public by an unguessable token (no session): the token is the access check. A file id outside
# the link's own files is a 404 (tests/test_shares.py).
TOKEN_GATED = {"privacy.shared_file"}

# URLs for the routes without an object, for the CSRF and no-change-on-GET checks.
PLAIN_URLS = {
    "auth.logout": "/logout",
    "main.set_language": "/settings/language",
    "account.settings": "/settings",
    "account.save_profile": "/settings",
    "account.change_password": "/settings/password",
    "mailbox.index": "/",
    "mailbox.folder": "/mail/inbox",
    "mailbox.search": "/search?q=Interview",
    "people.search_candidates": "/candidates/search?q=Ali&thread={thread}",
    "compose.new": "/compose",
    "compose.send": "/compose",
    "compose.preview": "/compose/preview",
    "compose.save_draft": "/compose/draft",
    "compose.insert_template": "/compose/template?template={template}",
    "bulk.new": "/bulk/new",
    "bulk.summary": "/bulk/new/summary",
    "bulk.create": "/bulk",
    "bulk.template_fields": "/bulk/new/template?template={template}",
    "mailtemplates.index": "/templates/",
    "mailtemplates.new": "/templates/new",
    "admin.users": "/admin/users",
    "admin.offers": "/admin/offers",
    "admin.quarantine": "/admin/quarantine",
    "admin.queues": "/admin/queues",
    "admin.requeue": "/admin/queues/requeue",
    "admin.audit_log": "/admin/audit",
    "admin.retention_page": "/admin/retention",
    "mailbox_sync.mailbox": "/settings/mailbox",
    "mailbox_sync.save": "/settings/mailbox",
    "mailbox_sync.test": "/settings/mailbox/test",
    "mailbox_sync.sync_now": "/settings/mailbox/sync",
    "mailbox_sync.disconnect": "/settings/mailbox/disconnect",
    "mailbox_sync.oauth_start": "/settings/mailbox/oauth/google",
    "mailbox_sync.oauth_callback": "/settings/mailbox/oauth/callback?code=c&state=s",
    "mailbox_sync.shared_mailboxes": "/settings/shared-mailboxes",
    "mailbox_sync.connect_shared": "/settings/shared-mailboxes",
    "mailbox_sync.oauth_start_shared": "/settings/shared-mailboxes/oauth/google",
    "mailbox_sync.progress": "/settings/mailbox/progress",
}
# Checked elsewhere: the webhook takes no session (signed instead), the login form by tests/test_auth.py.
CSRF_ELSEWHERE = {"receiving.raw": "signed with INBOUND_SECRET instead", "auth.login": "tests/test_auth.py"}


def fill(template: str, world: World) -> str:
    return template.format(**{k: v for k, v in world.ids.items()})


def snapshot(app) -> dict:
    """Every row of every table but the audit log: what a request must not change."""
    with app.app_context():
        tables = [t.name for t in db.metadata.sorted_tables if t.name != "audit_log"]
        state = {}
        for name in tables:
            rows = db.session.execute(text(f"SELECT * FROM {name}")).all()  # noqa: S608 (our table names)
            state[name] = sorted(map(repr, rows))
        return state


def signed_in(app, user: User) -> AuthActions:
    client = app.test_client()
    auth = AuthActions(client)
    assert auth.login(user.email).status_code == 302
    return auth


def cases():
    return [
        pytest.param(endpoint, i, id=f"{endpoint}[{i}]")
        for endpoint, cs in MATRIX.items()
        for i in range(len(cs))
    ]


def rule_methods(app) -> dict[str, set[str]]:
    methods: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        methods.setdefault(rule.endpoint, set()).update((rule.methods or set()) - {"HEAD", "OPTIONS"})
    return methods


def test_every_route_is_in_the_matrix(app):
    """A new route must say who may reach its objects: add it to MATRIX, or to WITHOUT_OBJECT."""
    endpoints = set(rule_methods(app))
    missing = endpoints - set(MATRIX) - set(WITHOUT_OBJECT)
    assert not missing, f"routes without a matrix entry: {sorted(missing)}"
    assert not (set(MATRIX) | set(WITHOUT_OBJECT)) - endpoints, "entries for routes that are gone"
    assert not set(MATRIX) & set(WITHOUT_OBJECT)
    for rule in app.url_map.iter_rules():
        ids = [arg for arg in rule.arguments if arg.endswith("_id")]
        if ids and rule.endpoint not in TOKEN_GATED:
            assert rule.endpoint in MATRIX, f"{rule.rule} names an object: it belongs in MATRIX"


@pytest.mark.parametrize(("endpoint", "index"), cases())
def test_an_outsider_gets_404_with_get_and_with_the_routes_method(app, world, endpoint, index):
    case = MATRIX[endpoint][index]
    url = fill(case.url, world)
    sam = signed_in(app, world.sam)
    token = sam.csrf_token("/mail/inbox")
    before = snapshot(app)
    allowed = rule_methods(app)[endpoint]
    response = sam.client.get(url)
    assert response.status_code == (case.expect if "GET" in allowed else 405), url
    for method in case.methods:
        data = {k: fill(v, world) for k, v in case.data.items()} | {"csrf_token": token}
        response = sam.client.open(url, method=method, data=data, headers={"X-CSRFToken": token})
        assert response.status_code == case.expect, f"{method} {url}"
    assert snapshot(app) == before, f"{endpoint}: an outsider's request changed something"


def test_the_matrix_objects_exist_for_their_owner(app, world):
    """The 404s above are about who asks: each object's owner (or an admin) gets it."""
    for endpoint, cs in MATRIX.items():
        if "GET" not in rule_methods(app)[endpoint]:
            continue
        for case in cs:
            owner = signed_in(app, world.ids[case.owner])
            url = fill(case.url, world)
            assert owner.client.get(url).status_code == 200, f"{endpoint}: {url}"


# The routes without an object that change state (POST), beside those of MATRIX with methods.
PLAIN_POSTS = {
    "auth.logout",
    "main.set_language",
    "account.save_profile",
    "account.change_password",
    "compose.send",
    "compose.preview",
    "compose.save_draft",
    "bulk.summary",
    "bulk.create",
    "mailtemplates.new",
    "admin.requeue",
    "admin.retention_page",
    "mailbox_sync.save",
    "mailbox_sync.test",
    "mailbox_sync.sync_now",
    "mailbox_sync.disconnect",
    "mailbox_sync.oauth_start",
    "mailbox_sync.connect_shared",
    "mailbox_sync.oauth_start_shared",
}


def state_changing() -> list:
    posting = {endpoint for endpoint, cs in MATRIX.items() if any(c.methods for c in cs)} | PLAIN_POSTS
    return [pytest.param(endpoint, id=endpoint) for endpoint in sorted(posting)]


def post_url(world, endpoint: str) -> str | None:
    if endpoint in MATRIX:
        posting = [c for c in MATRIX[endpoint] if c.methods]
        return fill(posting[0].url, world) if posting else None
    return fill(PLAIN_URLS[endpoint], world)


@pytest.mark.parametrize("endpoint", state_changing())
def test_csrf_refused_without_a_token_or_with_another_sessions(app, world, endpoint):
    methods = rule_methods(app)[endpoint] - {"GET"}
    url = post_url(world, endpoint)
    assert methods
    assert url is not None
    assert endpoint not in CSRF_ELSEWHERE
    ada = signed_in(app, world.ada)  # allowed everywhere but Rita's own template: CSRF decides here
    other_token = signed_in(app, world.sam).csrf_token("/mail/inbox")
    before = snapshot(app)
    for method in methods:
        for headers, data in [
            ({}, {}),  # no token at all
            ({"X-CSRFToken": other_token}, {}),  # another session's, in the header htmx sends
            ({}, {"csrf_token": other_token}),  # another session's, in a form field
        ]:
            response = ada.client.open(url, method=method, data=data, headers=headers)
            assert response.status_code == 400, f"{method} {url} {headers or data}"
            assert "CSRF" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_every_state_changing_route_is_checked_for_csrf(app):
    checked = {p.values[0] for p in state_changing()}
    for endpoint, methods in rule_methods(app).items():
        if methods - {"GET"} and endpoint not in CSRF_ELSEWHERE:
            assert endpoint in checked, f"{endpoint} changes state: add it to the CSRF check"


def get_urls(world) -> list[tuple[str, str, str]]:
    urls = []
    for endpoint, cs in MATRIX.items():
        urls += [(endpoint, fill(c.url, world), c.owner) for c in cs]
    urls += [(endpoint, fill(url, world), "ada") for endpoint, url in PLAIN_URLS.items()]
    return urls


def test_no_get_changes_anything(app, world):
    """Even for a user who may see it: a link from anywhere must not change a thing."""
    methods = rule_methods(app)
    clients = {}
    for endpoint, url, owner in get_urls(world):
        if "GET" not in methods[endpoint]:
            continue
        if owner not in clients:
            clients[owner] = signed_in(app, world.ids[owner])
        before = snapshot(app)
        for headers in ({}, {"HX-Request": "true", "HX-Target": "message-pane"}):
            response = clients[owner].client.get(url, headers=headers)
            assert response.status_code in (200, 204, 302), f"{url}: {response.status_code}"
        assert snapshot(app) == before, f"GET {url} changed something"
