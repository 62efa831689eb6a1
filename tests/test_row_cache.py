"""List rows come from memory (webapp/mailbox/rows.py): never a stale or another user's row.

A row's HTML is cached by what it shows. These tests hold the cache to that: the row template
reads nothing but its key; every attribute a user sees, and each viewer-dependent decision
(offer access, language, the shared mailbox), changes the row; and on a generated mailbox a
list drawn from a cache warmed by other users, languages and folders is byte for byte the list
drawn with an empty cache.
"""

import random
from datetime import UTC, datetime, timedelta

import pytest
from flask import g, render_template
from flask_login import login_user
from jinja2 import meta
from sqlalchemy import insert, select

from bench.generate import BULK_TABLES, TABLES, History, build_team
from webapp.extensions import db
from webapp.mail.read import entries, folders
from webapp.mail.read.folders import ListedMessage, ListedThread, Named, Row, Titled
from webapp.mailbox import nav as nav_module
from webapp.mailbox import rows
from webapp.models import User
from webapp.templating import row_words, short_date

NOW = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def listed_row(**changes) -> Row:
    """A candidate's reply on an offer, as a list reads it; `changes` set thread.x, message.x or row.x."""
    thread = ListedThread(31, "Interview", NOW, 7, 3, Named("Alice Able"), Titled("Backend"))
    message = ListedMessage(
        id=90, thread_id=31, direction="inbound", status="received", subject="Interview",
        snippet="See you Monday", from_name="Alice", from_address="alice@example.test",
        to_addresses=["rita@company.test"], candidate_id=7, candidate=Named("Alice Able"),
        cv_offer_id=None, cv_offer=None, held_at=None, scheduled_at=None, is_internal=False,
        source=None, envelope_to=[], sort_at=NOW, revises_id=None,
    )  # fmt: skip
    row = Row(thread, message, is_unread=True, has_attachments=False, count=2)
    for name, value in changes.items():
        part, attribute = name.split("__")
        if part == "row":
            setattr(row, attribute, value)
        else:
            setattr(row, part, getattr(row, part)._replace(**{attribute: value}))
    return row


def draw(app, row: Row, *, offers=None, language="en", shared=None, pick=True, selected=None) -> str:
    """The row's HTML in a request as `language`, for a viewer who sees `offers` (None: all)."""
    with app.test_request_context("/mail/inbox", headers={"Accept-Language": language}):
        g.offer_ids = offers
        g._shared_mailbox_names = shared or {}
        return str(rows.list_row(row, row_words(), "/mail/inbox/", pick, selected))


def test_the_row_template_reads_nothing_but_its_cache_key(app):
    source = app.jinja_env.loader.get_source(app.jinja_env, "mailbox/_row_view.html")[0]
    read = meta.find_undeclared_variables(app.jinja_env.parse(source))
    assert read <= {"v", "row_text", "row_base", "_"}  # "_" speaks the locale, which is in the key


@pytest.mark.parametrize(
    "changes",
    [
        {"row__is_unread": False},
        {"row__has_attachments": True},
        {"row__count": 5},
        {"message__subject": "Offer"},
        {"message__subject": ""},
        {"message__snippet": "See you Tuesday"},
        {"message__status": "failed"},
        {"message__direction": "outbound"},
        {"message__is_internal": True},
        {"message__candidate": Named("Alice Baker"), "thread__candidate": Named("Alice Baker")},
        {"thread__candidate": Named("Alicia Able")},
        {"thread__offer": Titled("Frontend")},
        {"thread__offer": None, "thread__offer_id": None},
        {"thread__id": 32},
        {"thread__last_message_at": NOW - timedelta(days=3)},
        {"thread__last_message_at": NOW - timedelta(minutes=1)},
        {"message__status": "draft", "message__revises_id": 12},
        {"message__status": "draft", "message__sort_at": NOW - timedelta(days=2)},
    ],
    ids=lambda changes: ",".join(changes),
)
def test_each_shown_attribute_changes_the_row(app, changes):
    before = draw(app, listed_row())
    assert draw(app, listed_row(**changes)) != before
    assert draw(app, listed_row()) == before  # the first row, still served as it was


def test_the_sender_s_name_shows_when_no_candidate_is_known(app):
    unknown = {"message__candidate": None, "thread__candidate": None, "message__candidate_id": None}
    assert draw(app, listed_row(**unknown, message__from_name="Al")) != draw(app, listed_row(**unknown))


def test_held_scheduled_mail_is_marked(app):
    scheduled = {
        "message__direction": "outbound",
        "message__status": "scheduled",
        "message__scheduled_at": NOW,
    }
    plain = draw(app, listed_row(**scheduled))
    held = draw(app, listed_row(**scheduled, message__held_at=NOW))
    assert "Held" in held
    assert "Held" not in plain


def test_what_the_viewer_may_see_changes_the_row(app):
    row = listed_row()
    everything = draw(app, row)
    assert "Backend" in everything
    assert "Backend" not in draw(app, row, offers={99})  # no access to the offer: no chip
    assert draw(app, row, offers={3}) == everything
    french = draw(app, row, language="fr")
    assert "Non lu" in french
    assert "Non lu" not in everything
    assert draw(app, row, pick=False) != everything  # no tick box outside the bulk folders
    assert "is-selected" in draw(app, row, selected=row.thread)
    synced = listed_row(message__source="mailbox", message__envelope_to=["jobs@company.test"])
    assert "Jobs desk" in draw(app, synced, shared={"jobs@company.test": "Jobs desk"})
    assert "Jobs desk" not in draw(app, synced)


def test_the_cv_offer_shows_only_with_access_to_it(app):
    row = listed_row(
        thread__offer=None, thread__offer_id=None, message__cv_offer_id=4, message__cv_offer=Titled("QA")
    )
    assert "QA" in draw(app, row, offers={4})
    assert "QA" not in draw(app, row, offers={3})


MESSAGES = 1500


@pytest.fixture
def mailbox(app):
    """A small generated team and its mail (the benchmark's generator), entries rebuilt."""
    with app.app_context():
        rng = random.Random(14)
        now = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
        team = build_team(rng, MESSAGES // 5, now, "not-a-password-hash")
        tables = {name: db.metadata.tables[name] for name in TABLES}
        for name in TABLES:
            if name not in BULK_TABLES and team.rows[name]:
                db.session.execute(insert(tables[name]), team.rows[name])
        for batch in History(random.Random(15), team, now).batches(MESSAGES):
            for name in BULK_TABLES:
                if batch[name]:
                    db.session.execute(insert(tables[name]), batch[name])
        entries.rebuild()
        db.session.commit()


def _lists(app, email: str, language: str) -> dict[str, str]:
    """Every folder's first list as `email` sees it in `language`."""
    drawn = {}
    with app.test_request_context("/mail/inbox", headers={"Accept-Language": language}):
        user = db.session.scalar(select(User).where(User.email == email))
        user.locale = None
        login_user(user)
        for folder in folders.FOLDERS:
            found, _ = folders.list_rows(folder.slug, user, limit=50)
            drawn[folder.slug] = render_template(
                "mailbox/_rows.html", folder=folder, rows=found, has_more=False
            )
        db.session.rollback()
    return drawn


def test_a_warm_cache_draws_the_same_lists_as_an_empty_one(app, mailbox):
    viewers = [("ada@bench-company.example", "en"), ("tess@bench-company.example", "en")]
    viewers += [("tess@bench-company.example", "fr"), ("ada@bench-company.example", "fr")]
    cold = {}
    for email, language in viewers:
        rows._row_html.cache_clear()
        cold[email, language] = _lists(app, email, language)
    assert sum(html.count("<li id=") for html in cold["ada@bench-company.example", "en"].values()) > 100
    assert cold["ada@bench-company.example", "en"] != cold["tess@bench-company.example", "en"]
    rows._row_html.cache_clear()
    for email, language in viewers + viewers[::-1]:  # each drawn after the others filled the cache
        assert _lists(app, email, language) == cold[email, language]
    assert rows._row_html.cache_info().hits > 0


def test_a_list_date_is_written_for_each_viewer_s_zone_and_language(app, make):
    moment = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)  # already 2 March in Paris
    viewers = {"uma": ("UTC", "en"), "pia": ("Europe/Paris", "en"), "flo": ("Europe/Paris", "fr")}
    for name, (zone, locale) in viewers.items():
        make.user(f"{name} Viewer", timezone=zone, locale=locale)
    written = {}
    for name in [*viewers, *viewers]:  # the second time, from memory
        with app.test_request_context("/mail/inbox"):
            login_user(db.session.scalar(select(User).where(User.email == f"{name}@team.test")))
            written.setdefault(name, []).append(short_date(moment))
    assert written == {"uma": ["Mar 1, 2025"] * 2, "pia": ["Mar 2, 2025"] * 2, "flo": ["2 mars 2025"] * 2}


def test_the_folder_nav_template_reads_nothing_but_its_cache_key(app):
    source = app.jinja_env.loader.get_source(app.jinja_env, "mailbox/_folder_nav_view.html")[0]
    read = meta.find_undeclared_variables(app.jinja_env.parse(source))
    # The key's parts, the folder constants, and the language's and root URL's helpers.
    assert read <= {"active", "counts", "oob", "is_admin", "folders", "groups", "_", "ngettext", "url_for"}


def test_the_folder_nav_follows_folder_counts_language_and_role(app, make):
    make.user("Rita Recruiter")
    make.user("Ada Admin", role="admin")

    def nav(email, slug="inbox", counts=None, language="en", oob=False):
        with app.test_request_context("/mail/inbox", headers={"Accept-Language": language}):
            login_user(db.session.scalar(select(User).where(User.email == email)))
            return str(nav_module.folder_nav(folders.FOLDERS_BY_SLUG[slug], counts or {"inbox": 2}, oob))

    rita = nav("rita@team.test")
    assert 'data-folder="inbox" aria-current="page"' in rita
    assert nav("rita@team.test", slug="sent") != rita
    assert ">3</span>" in nav("rita@team.test", counts={"inbox": 3})
    assert "Dossiers" in nav("rita@team.test", language="fr")
    assert 'hx-swap-oob="true"' in nav("rita@team.test", oob=True)
    assert "Quarantine" in nav("ada@team.test")
    assert "Quarantine" not in nav("rita@team.test")
    assert nav("rita@team.test") == rita
