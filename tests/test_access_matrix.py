"""Who may see which candidate and which offer: one matrix, asked of every operation that decides it.

The rule (docs/folders.md, "Folder rules"): U can see candidate C when U is an admin or C is placed on
an offer U has access to; a candidate with no placement is seen by admins and by the users who
wrote or received mail in that conversation. Offer access: admins all, others their hiring team's.
"""

import pytest
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.mail.outbound import bulk
from webapp.mail.read import access, folders
from webapp.models import Direction, Offer, User
from webapp.people import queries

# candidate key: (offers it is placed on, who may see it besides the admin)
CANDIDATES = {
    "backend": (["Backend"], {"rita"}),
    "pool": (["Engineering pool"], {"rita"}),  # a talent pool, not a job
    "closed": (["Old role"], {"rita"}),  # a closed offer still counts
    "sales": (["Sales"], {"sam"}),
    "both": (["Backend", "Sales"], {"rita", "sam"}),
    "secret": (["Secret"], set()),  # an offer nobody but admins can access
    "secret-mailed": (["Secret"], set()),  # placed: mail with sam does not open it to him
    "unplaced-to-sam": ([], {"sam"}),  # no placement, wrote to sam
    "unplaced-by-rita": ([], {"rita"}),  # no placement, rita wrote to them
    "unplaced-silent": ([], set()),  # no placement, no mail
}
# offer title: who has access besides the admin
OFFERS = {
    "Backend": {"rita"},
    "Engineering pool": {"rita"},
    "Old role": {"rita"},
    "Sales": {"sam"},
    "Secret": set(),
}
USERS = ("ada", "rita", "sam", "nick")  # nick: a recruiter with no offer and no mail


@pytest.fixture
def world(app, make):
    w = type("World", (), {})()
    w.offers = {title: make.offer(title, kind="pool" if "pool" in title else "job") for title in OFFERS}
    with app.app_context():
        db.session.execute(update(Offer).where(Offer.title == "Old role").values(is_open=False))
        db.session.commit()
    w.users = {"ada": make.user("Ada Admin", role="admin")}
    for key in ("rita", "sam", "nick"):
        offers = [w.offers[t] for t, team in OFFERS.items() if key in team]
        w.users[key] = make.user(f"{key.title()} Recruiter", offers=offers)
    w.candidates = {
        key: make.candidate(
            f"Cand {key.title()}", offers=[w.offers[t] for t in titles], emails=[f"{key}@matrix.test"]
        )
        for key, (titles, _) in CANDIDATES.items()
    }
    make.message(candidate=w.candidates["secret-mailed"], to_users=[w.users["sam"]])
    make.message(candidate=w.candidates["unplaced-to-sam"], to_users=[w.users["sam"]])
    make.message(
        direction=Direction.OUTBOUND, sender=w.users["rita"], candidate=w.candidates["unplaced-by-rita"]
    )
    return w


def expected_candidates(user_key: str) -> set[str]:
    return {k for k, (_, who) in CANDIDATES.items() if user_key == "ada" or user_key in who}


def expected_offers(user_key: str) -> set[str]:
    return {t for t, who in OFFERS.items() if user_key == "ada" or user_key in who}


def _user(user_key: str) -> User:
    return db.session.scalar(select(User).where(User.name.startswith(user_key.title())))


def _keys(world, candidates) -> set[str]:
    by_id = {c.id: k for k, c in world.candidates.items()}
    return {by_id[c.id] for c in candidates}


# Each operation that answers "which candidates may this user see", asked the same question.
def _by_bulk_resolve(world, user):
    ids = [c.id for c in world.candidates.values()]
    found = bulk.resolve(user, [], ids)
    return _keys(world, [r.candidate for r in found.ready + found.skipped])


def _by_people_visible_candidate(world, user):
    return _keys(world, [c for c in world.candidates.values() if queries.visible_candidate(user, c.id)])


def _by_people_search(world, user):
    return _keys(world, queries.search_candidates(user, "matrix.test", limit=50))


def _by_access_visible_candidates(world, user):
    return _keys(world, db.session.scalars(access.visible_candidates(user)))


CANDIDATE_RULES = {
    "bulk.resolve": _by_bulk_resolve,
    "people.visible_candidate": _by_people_visible_candidate,
    "people.search_candidates": _by_people_search,
    "access.visible_candidates": _by_access_visible_candidates,
}


@pytest.mark.parametrize("user_key", USERS)
@pytest.mark.parametrize("rule", CANDIDATE_RULES)
def test_who_sees_which_candidate(app, world, rule, user_key):
    with app.app_context():
        seen = CANDIDATE_RULES[rule](world, _user(user_key))
    assert seen == expected_candidates(user_key)


def _titles(offers) -> set[str]:
    return {o.title for o in offers}


# Each operation that answers "which offers may this user use".
OFFER_RULES = {
    "access.accessible_offers": lambda world, user: _titles(
        db.session.scalars(access.accessible_offers(user))
    ),
    "bulk.offer_choices": lambda world, user: _titles(bulk.offer_choices(user)),
    "people.offer_choices": lambda world, user: _titles(queries.offer_choices(user)),
    "people.visible_offer": lambda world, user: _titles(
        o for o in (queries.visible_offer(user, x.id) for x in world.offers.values()) if o
    ),
    "bulk.offers_for": lambda world, user: _titles(
        o for x in world.offers.values() for o in (bulk.offers_for(user, [x.id]) or [])
    ),
}


@pytest.mark.parametrize("user_key", USERS)
@pytest.mark.parametrize("rule", OFFER_RULES)
def test_who_may_use_which_offer(app, world, rule, user_key):
    with app.app_context():
        seen = OFFER_RULES[rule](world, _user(user_key))
    assert seen == expected_offers(user_key)


def test_each_page_keeps_its_order_of_offers(app, world):
    with app.app_context():
        ada = _user("ada")
        # Bulk email: open offers first, then by title; the people forms: by title.
        open_first = ["Backend", "Engineering pool", "Sales", "Secret", "Old role"]
        assert [o.title for o in bulk.offer_choices(ada)] == open_first
        assert [o.title for o in queries.offer_choices(ada)] == sorted(OFFERS)


def test_an_unplaced_candidates_mail_is_seen_conversation_by_conversation(app, make, world):
    """The candidate is seen through one conversation; the folders show only that one."""
    nora = world.candidates["unplaced-to-sam"]
    other = make.message(candidate=nora, to_users=[world.users["rita"]], subject="Only for Rita")
    with app.app_context():
        sam = _user("sam")
        assert queries.visible_candidate(sam, nora.id) is not None
        subjects = {row.thread.subject for row in folders.list_rows("candidates", sam, limit=50)[0]}
        assert other.subject not in subjects
        rita = _user("rita")
        assert queries.visible_candidate(rita, nora.id) is not None  # she received mail from them now
