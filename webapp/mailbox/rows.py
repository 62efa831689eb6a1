"""A list row's HTML: worked out once for what the row shows, then served from memory.

A row's HTML is a function of what it displays and nothing else: `RowView` holds exactly that
(the row's columns as shown, its date as written, the viewer's offer-access and shared-mailbox
answers for it), and `_row_html` renders it from the view, the language's row words, the folder
link and the locale, which together are its cache key. The row template sees only those, so
nothing it shows can be missing from the key. A page of rows seen before costs a lookup each.
"""

from functools import lru_cache
from typing import NamedTuple

from flask import current_app, g
from flask_babel import get_locale
from markupsafe import Markup

from webapp.mail.read.folders import Row
from webapp.mailbox import bp
from webapp.mailbox_sync.labels import shared_mailbox_name
from webapp.templating import offer_shown, short_date

# About 2.2 KB a row, its HTML and its key (10,000 rows of the generated mailbox held 21.7 MB):
# 200 pages of 50 a process, the pages a team keeps going back to.
CACHED_ROWS = 10_000


class RowView(NamedTuple):
    """Everything one list row shows, as it shows it."""

    thread_id: int
    unread: bool
    selected: bool
    oob: bool
    outbound: bool
    party: str | None
    picked_candidate_id: int | None  # the bulk tick box's value, when the folder shows one
    picked_name: str | None
    message_count: int
    candidate_chip: bool
    candidate_name: str | None
    job_title: str | None  # an offer the viewer may see, or None
    via: str | None  # the shared mailbox it came to
    failed: bool
    held: bool
    editing: bool  # a draft of an edit to a scheduled message
    attachments: bool
    iso_date: str
    date_text: str
    subject: str | None
    snippet: str | None


def row_view(row: Row, pick: bool, selected_id: int | None, oob: bool) -> RowView:
    """What `row` shows: its words, chips and flags, the viewer's access and the date as written."""
    m, t = row.message, row.thread
    if m.is_outbound:
        party = m.candidate.full_name if m.candidate else (m.to_addresses or [""])[0]
    elif m.candidate and m.candidate.full_name and not m.is_internal:
        party = m.candidate.full_name
    else:
        party = m.display_from
    picked = bool(pick and m.candidate_id)
    if t.offer and offer_shown(t.offer_id):
        job = t.offer
    else:
        job = m.cv_offer if m.cv_offer and offer_shown(m.cv_offer_id) else None
    candidate_name = t.candidate.full_name if t.candidate else None
    # When it leaves if scheduled; a draft's row: when it was saved.
    shown_at = m.scheduled_at if m.is_scheduled else m.sort_at if m.is_draft else t.last_message_at
    return RowView(
        thread_id=t.id,
        unread=bool(row.is_unread),
        selected=selected_id == t.id,
        oob=oob,
        outbound=m.is_outbound,
        party=party,
        picked_candidate_id=m.candidate_id if picked else None,
        picked_name=(candidate_name if t.candidate else party) if picked else None,
        message_count=row.count,
        candidate_chip=bool(t.candidate) and candidate_name != party,
        candidate_name=candidate_name,
        job_title=job.title if job else None,
        via=shared_mailbox_name(m),
        failed=m.is_failed,
        held=bool(m.held_at and m.is_scheduled),
        editing=bool(m.is_draft and m.revises_id),
        attachments=bool(row.has_attachments),
        iso_date=t.last_message_at.isoformat(),
        date_text=short_date(shown_at),
        subject=m.subject,
        snippet=m.snippet,
    )


@bp.app_template_global("list_row")
def list_row(row: Row, words: dict[str, str], base: str, pick, thread=None, oob=False) -> Markup:
    """One row of a conversation list, from memory when the same row was shown before.

    `words` are the row words of the language, `base` the folder's link ("/mail/inbox/"), `pick`
    whether the folder offers bulk tick boxes, `thread` the conversation open in the pane.
    """
    view = row_view(row, bool(pick), thread.id if thread else None, bool(oob))
    shared = g.get("_hm_row_key")
    if shared is None or shared[0] is not words:  # the words and locale of a list: once a request
        shared = g._hm_row_key = (words, tuple(words.items()), str(get_locale()))
    return _row_html(view, shared[1], base, shared[2])


@lru_cache(maxsize=CACHED_ROWS)
def _row_html(view: RowView, words: tuple, base: str, locale: str) -> Markup:
    """The row's HTML: the template reads only these arguments (the locale picks its language)."""
    template = current_app.jinja_env.get_template("mailbox/_row_view.html")
    return Markup(template.render(v=view, row_text=dict(words), row_base=base))
