"""Non-candidates become candidates; incoming CVs become placed candidates; timelines; audit."""

import pytest
from sqlalchemy import func, select

from tests.dom import parse
from tests.helpers import row_subjects
from webapp.extensions import db
from webapp.models import AuditLog, Candidate, CandidateFile, Message, Placement

# Sign-ins and sign-outs are audited too (tests/security/test_sessions.py); these tests read the rest.
NOT_SIGN_IN = AuditLog.action.notin_(("login", "logout", "login_failed"))

PANE = {"HX-Request": "true", "HX-Target": "message-pane"}


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend", "secret": "Secret"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["job"], "Sam Recruiter": []},
    )


def post(client, auth, url, data=None):
    token = auth.csrf_token("/mail/inbox")
    return client.post(url, data={"csrf_token": token, **(data or {})}, headers=PANE)


def subjects(client, auth, user, slug):
    auth.login(user.email)
    html = client.get(f"/mail/{slug}").get_data(as_text=True)
    auth.logout()
    return row_subjects(html)


@pytest.fixture
def jane(make, team):
    """Jane wrote twice (two conversations) and rita answered once."""
    t1 = make.thread("Freelance offer")
    make.message(t1, from_address="jane@agency.test", to_users=[team.rita])
    outbound = [
        make.message(
            t1,
            direction="outbound",
            sender=team.rita,
            from_address="rita@mail.test",
            to_addresses=["jane@agency.test"],
        )
        for _ in range(2)
    ]
    t2 = make.thread("Another idea")
    make.message(t2, from_address="jane@agency.test")
    return {"first": t1, "second": t2, "outbound": outbound}


def test_convert_moves_every_message_of_the_address(app, client, auth, team, jane):
    assert sorted(subjects(client, auth, team.rita, "non-candidates")) == ["Another idea", "Freelance offer"]
    auth.login(team.rita.email)
    pane = client.get(f"/mail/non-candidates/{jane['first'].id}", headers=PANE).get_data(as_text=True)
    assert "Convert to candidate" in pane
    assert "Add to existing candidate" in pane
    response = post(
        client,
        auth,
        f"/mail/non-candidates/{jane['first'].id}/convert",
        {
            "first_name": "Jane",
            "last_name": "Cole",
            "email": "jane@agency.test",
            "offer_id": str(team.job.id),
        },
    )
    assert response.status_code == 200
    assert "Jane Cole" in response.get_data(as_text=True)
    auth.logout()
    assert subjects(client, auth, team.rita, "non-candidates") == []  # none stays behind
    assert sorted(subjects(client, auth, team.rita, "candidates")) == ["Another idea", "Freelance offer"]
    with app.app_context():
        jane_id = db.session.scalar(select(Candidate.id).where(Candidate.first_name == "Jane"))
        counts = db.session.scalar(select(func.count(Message.id)).where(Message.candidate_id == jane_id))
        assert counts == 4  # nothing lost: both inbound and both outbound, across the two threads
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "convert_to_candidate"))
        assert log.user_id == team.rita.id
        assert log.details["messages_moved"] == 4
        assert (
            db.session.scalar(select(Placement.offer_id).where(Placement.candidate_id == jane_id))
            == team.job.id
        )


def _row_names(html: str) -> dict[str, str]:
    """{subject: the name a row shows} of the conversation rows in a page or fragment."""
    rows = parse(html).find_all("li", id=lambda v: v.startswith("thread-row-"))
    return {r.find("span", class_="row-subject").text: r.find("span", class_="row-from").text for r in rows}


@pytest.mark.parametrize("how", ["convert", "attach"])
def test_after_a_conversion_the_list_and_pane_name_the_candidate_at_once(client, auth, make, team, how):
    """The rows said "Talent Partners" (the From label); right after, they say the candidate's name."""
    for subject in ("Backend profiles", "Fee reminder"):
        make.message(
            make.thread(subject),
            from_address="jane@agency.test",
            from_name="Talent Partners",
            to_users=[team.rita],
        )
    alice = make.candidate("Alice Able", offers=[team.job], emails=["alice@outside.test"])
    auth.login(team.rita.email)
    listed = client.get("/mail/non-candidates").get_data(as_text=True)
    assert _row_names(listed) == {"Backend profiles": "Talent Partners", "Fee reminder": "Talent Partners"}
    thread_id = parse(listed).find("li", id=lambda v: v.startswith("thread-row-")).get("data-thread")
    if how == "convert":
        form = {
            "first_name": "Jane",
            "last_name": "Cole",
            "email": "jane@agency.test",
            "offer_id": str(team.job.id),
        }
        name = "Jane Cole"
    else:
        form = {"candidate_id": str(alice.id), "email": "jane@agency.test"}
        name = "Alice Able"
    response = post(client, auth, f"/mail/non-candidates/{thread_id}/{how}", form)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert parse(html).find("p", class_="thread-meta").find("a", class_="chip-candidate").text == name
    # The list swapped with the pane: neither conversation of the address is a non-candidate's now.
    assert parse(html).find("section", id="message-list") is not None
    assert _row_names(html) == {}
    candidates = client.get("/mail/candidates").get_data(as_text=True)
    assert _row_names(candidates) == {"Backend profiles": name, "Fee reminder": name}


def test_add_to_existing_candidate(app, client, auth, make, team, jane):
    alice = make.candidate("Alice Able", offers=[team.job], emails=["alice@outside.test"])
    auth.login(team.rita.email)
    choices = client.get(
        f"/candidates/search?q=alic&email=jane@agency.test&slug=non-candidates&thread={jane['first'].id}",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "Add to Alice Able" in choices
    response = post(
        client,
        auth,
        f"/mail/non-candidates/{jane['first'].id}/attach",
        {"candidate_id": str(alice.id), "email": "jane@agency.test"},
    )
    assert response.status_code == 200
    auth.logout()
    assert subjects(client, auth, team.rita, "non-candidates") == []
    with app.app_context():
        emails = {e.email for e in db.session.get(Candidate, alice.id).emails}
        assert emails == {"alice@outside.test", "jane@agency.test"}
        assert db.session.scalar(select(AuditLog.action).where(NOT_SIGN_IN)) == "add_address_to_candidate"


def test_people_actions_respect_access(app, client, auth, make, team, jane):
    hidden = make.candidate("Sue Secret", offers=[team.secret], emails=["sue@outside.test"])
    auth.login(team.rita.email)
    assert "Sue" not in client.get("/candidates/search?q=sue").get_data(as_text=True)
    forged = post(
        client,
        auth,
        f"/mail/non-candidates/{jane['first'].id}/attach",
        {"candidate_id": str(hidden.id), "email": "jane@agency.test"},
    )
    assert forged.status_code == 404
    other_offer = post(
        client,
        auth,
        f"/mail/non-candidates/{jane['first'].id}/convert",
        {"first_name": "J", "email": "jane@agency.test", "offer_id": str(team.secret.id)},
    )
    assert other_offer.status_code == 404
    assert client.get(f"/candidates/{hidden.id}").status_code == 404
    assert client.get(f"/offers/{team.secret.id}").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditLog.id)).where(NOT_SIGN_IN)) == 0


def test_incoming_cv_to_candidate_with_cv_kept(app, client, auth, make, team):
    from webapp.mail.storage import BlobStore
    from webapp.models import Attachment

    cv = make.message(
        subject="CV: Sofia Rossi", is_cv=True, cv_offer_id=team.job.id, from_address="mark@agency.test"
    )
    with app.app_context():
        row = db.session.get(Message, cv.id)
        row.from_name = "Mark Evans"
        row.body_text = "Please find the CV of Sofia Rossi (sofia.rossi@example.com)."
        sha = BlobStore(app.config["STORAGE_DIR"]).put(b"%PDF sofia")
        db.session.add(
            Attachment(
                message_id=cv.id,
                filename="Sofia_Rossi_CV.pdf",
                content_type="application/pdf",
                size=10,
                sha256=sha,
            )
        )
        db.session.commit()
    auth.login(team.rita.email)
    pane = client.get(f"/mail/incoming-cv/{cv.thread_id}", headers=PANE).get_data(as_text=True)
    # An agency sent it: the form starts from the person named in it, not the sender.
    assert 'value="Sofia"' in pane
    assert 'value="Rossi"' in pane
    assert 'value="sofia.rossi@example.com"' in pane
    response = post(
        client,
        auth,
        f"/mail/incoming-cv/{cv.thread_id}/candidate",
        {
            "first_name": "Sofia",
            "last_name": "Rossi",
            "email": "sofia.rossi@example.com",
            "offer_id": str(team.job.id),
        },
    )
    assert response.status_code == 200
    auth.logout()
    assert subjects(client, auth, team.rita, "incoming-cv") == []  # processed items leave the folder
    with app.app_context():
        sofia = db.session.scalar(select(Candidate).where(Candidate.first_name == "Sofia"))
        assert [p.offer_id for p in sofia.placements] == [team.job.id]
        files = list(db.session.scalars(select(CandidateFile).where(CandidateFile.candidate_id == sofia.id)))
        assert [f.attachment.filename for f in files] == ["Sofia_Rossi_CV.pdf"]
        sofia_id = sofia.id
    auth.login(team.rita.email)
    page = client.get(f"/candidates/{sofia_id}").get_data(as_text=True)
    assert "Sofia_Rossi_CV.pdf" in page
    assert "CV: Sofia Rossi" in page


def test_incoming_cv_duplicate_is_offered_for_merging(app, client, auth, make, team):
    # On the job already (so rita may see him): the CV places him, without a second profile.
    existing = make.candidate("Omar Farah", offers=[team.job], emails=["omar@example.com"])
    cv = make.message(subject="My CV", is_cv=True, cv_offer_id=team.job.id, from_address="omar@example.com")
    auth.login(team.rita.email)
    url = f"/mail/incoming-cv/{cv.thread_id}/candidate"
    data = {
        "first_name": "Omar",
        "last_name": "Farah",
        "email": "omar@example.com",
        "offer_id": str(team.job.id),
    }
    refused = post(client, auth, url, data)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "already Omar Farah" in html
    assert "Place Omar Farah on the job" in html
    merged = post(client, auth, url, {**data, "merge": str(existing.id)})
    assert merged.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Candidate.id))) == 1  # no second profile
        assert [p.offer_id for p in db.session.get(Candidate, existing.id).placements] == [team.job.id]


def test_discard_cv_leaves_the_folder(app, client, auth, make, team):
    cv = make.message(subject="Spam CV", is_cv=True, cv_offer_id=team.job.id, from_address="x@y.test")
    auth.login(team.rita.email)
    assert post(client, auth, f"/mail/incoming-cv/{cv.thread_id}/discard").status_code == 200
    auth.logout()
    assert subjects(client, auth, team.rita, "incoming-cv") == []
    with app.app_context():
        assert db.session.scalar(select(AuditLog.action).where(NOT_SIGN_IN)) == "cv_discarded"


def test_candidate_and_offer_pages_show_every_message(app, client, auth, make, team):
    alice = make.candidate("Alice Able", offers=[team.job], emails=["alice@outside.test"])
    for subject in ("First chat", "Second chat"):
        t = make.thread(subject, candidate=alice, offer=team.job)
        make.message(t, candidate=alice)
    auth.login(team.rita.email)
    page = client.get(f"/candidates/{alice.id}").get_data(as_text=True)
    assert "First chat" in page
    assert "Second chat" in page
    offer = client.get(f"/offers/{team.job.id}").get_data(as_text=True)
    assert "Alice Able" in offer
    assert "First chat" in offer


def test_follow_from_the_candidate_and_offer_pages(app, client, auth, make, team):
    alice = make.candidate("Alice Able", offers=[team.job], emails=["alice@outside.test"])
    make.message(make.thread("Hello", candidate=alice, offer=team.job), candidate=alice)
    auth.login(team.rita.email)
    assert f'id="follow-candidate-{alice.id}"' in client.get(f"/candidates/{alice.id}").get_data(as_text=True)
    button = post(client, auth, f"/candidates/{alice.id}/follow?button=1").get_data(as_text=True)
    assert 'aria-pressed="true"' in button
    assert "Following" in button
    post(client, auth, f"/offers/{team.job.id}/follow?button=1")
    auth.logout()
    assert subjects(client, auth, team.rita, "followed-candidates") == ["Hello"]
    assert subjects(client, auth, team.rita, "followed-jobs") == ["Hello"]


def test_incoming_cv_never_reveals_or_merges_a_hidden_candidate(app, client, auth, make, team):
    sue = make.candidate("Sue Secretname", offers=[team.secret], emails=["sue@outside.test"])
    hidden = make.thread("Private salary talk", candidate=sue)
    make.message(hidden, candidate=sue)
    cv = make.message(subject="A CV", is_cv=True, cv_offer_id=team.job.id, from_address="agency@hr.test")
    auth.login(team.rita.email)
    url = f"/mail/incoming-cv/{cv.thread_id}/candidate"
    data = {"first_name": "S", "last_name": "S", "email": "sue@outside.test", "offer_id": str(team.job.id)}
    refused = post(client, auth, url, data).get_data(as_text=True)
    assert "Secretname" not in refused
    assert "can&#39;t be used here" in refused
    post(client, auth, url, {**data, "merge": str(sue.id)})
    assert client.get(f"/candidates/{sue.id}").status_code == 404
    assert client.get(f"/mail/candidates/{hidden.id}").status_code == 404
    with app.app_context():
        assert [p.offer_id for p in db.session.get(Candidate, sue.id).placements] == [team.secret.id]


def test_convert_only_takes_the_conversations_own_address(client, auth, make, team, jane):
    make.candidate("Sue Secretname", offers=[team.secret], emails=["sue@outside.test"])
    auth.login(team.rita.email)
    probe = post(
        client,
        auth,
        f"/mail/non-candidates/{jane['first'].id}/convert",
        {"first_name": "X", "email": "sue@outside.test"},
    )
    assert probe.status_code == 404  # not a look-up of who is a candidate


def test_add_to_existing_candidate_finds_every_candidate_the_user_may_see(
    app, client, auth, make, team, jane
):
    """Placed or not: on the user's offers, in their own mail, from a CV of their offer; any word order."""
    make.candidate("Alice Able", offers=[team.job], emails=["alice@outside.test"])
    make.candidate("Nora Nomail", offers=[team.job], emails=[])  # no address yet: found by name
    mailed = make.candidate("Uma Unplaced", emails=["uma@outside.test"])
    make.message(direction="outbound", sender=team.rita, candidate=mailed)
    from_cv = make.candidate("Cora Cv", emails=["cora@outside.test"])
    make.message(candidate=from_cv, is_cv=True, cv_offer_id=team.job.id)
    make.candidate("Sue Secret", offers=[team.secret], emails=["sue@outside.test"])
    others = make.candidate("Olga Others", emails=["olga@outside.test"])
    make.message(direction="outbound", sender=team.sam, candidate=others)
    auth.login(team.rita.email)

    def found(text: str) -> set[str]:
        thread = jane["first"].id
        url = f"/candidates/search?q={text}&email=jane@agency.test&slug=non-candidates&thread={thread}"
        html = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        return {button.text.removeprefix("Add to ") for button in parse(html).find_all("button")}

    assert found("outside.test") == {"Alice Able", "Uma Unplaced", "Cora Cv"}
    assert found("nora") == {"Nora Nomail"}
    assert found("able alice") == {"Alice Able"}  # the words in either order
    assert found("unplaced uma@") == {"Uma Unplaced"}  # a name and an address together
    assert found("secret") == found("olga") == set()  # what Rita may not see stays hidden
