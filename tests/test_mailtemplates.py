"""Templates: personal ones for their owner, shared ones kept by admins; placeholders checked at save."""

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Template

EDITOR = {"HX-Request": "true", "HX-Target": "template-editor"}
PANE = {"HX-Request": "true", "HX-Target": "message-pane"}


@pytest.fixture
def team(app, make_team):
    t = make_team(users={"Rita Recruiter": [], "Sam Recruiter": [], "Ada Admin": "admin"})
    with app.app_context():
        shared = Template(name="Team invite", subject="Interview", body="Hi [candidate.first_name]")
        sams = Template(name="Sam's own", subject="x", body="y", owner_id=t.sam.id)
        db.session.add_all([shared, sams])
        db.session.commit()
        t.shared_id, t.sams_id = shared.id, sams.id
    return t


def save(client, auth, url="/templates/new", **data):
    token = auth.csrf_token("/mail/inbox")
    form = {
        "csrf_token": token,
        "name": "Follow-up",
        "subject": "About [job.title|the role]",
        "body": "Hi [candidate.first_name],\n\n[sender.name]",
        **data,
    }
    return client.post(url, data=form, headers=EDITOR)


def template(app, template_id) -> Template | None:
    with app.app_context():
        found = db.session.get(Template, template_id)
        if found is not None:
            db.session.expunge(found)
        return found


def templates_named(app, name) -> list[Template]:
    with app.app_context():
        rows = list(db.session.scalars(select(Template).where(Template.name == name)))
        db.session.expunge_all()
        return rows


def test_page_lists_mine_and_shared_with_placeholder_help(client, auth, team):
    auth.login(team.rita.email)
    page = client.get("/templates/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<html" in html
    assert "Back to the inbox" in html
    assert "Team invite" in html
    assert "Sam&#39;s own" not in html
    assert "Copy to mine" in html  # a recruiter may copy a shared template, not edit it
    for placeholder in (
        "[candidate.first_name]",
        "[candidate.full_name]",
        "[job.title]",
        "[sender.name]",
        "[company.name]",
        "[candidate.first_name|there]",
    ):
        assert placeholder in html, placeholder


def test_create_edit_delete_a_personal_template(app, client, auth, team):
    auth.login(team.rita.email)
    created = save(client, auth, is_shared="y")  # a recruiter cannot share: it stays personal
    html = created.get_data(as_text=True)
    assert created.status_code == 200
    assert "<html" not in html
    assert "Template saved." in html
    [mine] = templates_named(app, "Follow-up")
    assert mine.owner_id == team.rita.id
    assert mine.body.startswith("Hi [candidate.first_name]")
    assert created.headers["HX-Push-Url"] == f"/templates/{mine.id}/edit"
    assert 'id="template-list" class="template-list" aria-label="Templates" hx-swap-oob="true"' in html
    assert client.get(f"/templates/{mine.id}/edit", headers=EDITOR).status_code == 200

    edited = save(client, auth, url=f"/templates/{mine.id}/edit", name="Follow-up 2", subject="Still keen?")
    assert edited.status_code == 200
    assert template(app, mine.id).name == "Follow-up 2"
    assert template(app, mine.id).owner_id == team.rita.id

    form = client.get("/compose", headers=PANE).get_data(as_text=True)
    assert f'<option value="{mine.id}">Follow-up 2</option>' in form
    assert ">Team invite<" in form

    token = auth.csrf_token("/mail/inbox")
    deleted = client.post(f"/templates/{mine.id}/delete", headers={**EDITOR, "X-CSRFToken": token})
    assert deleted.status_code == 200
    assert "Template deleted." in deleted.get_data(as_text=True)
    assert deleted.headers["HX-Push-Url"] == "/templates/"
    assert template(app, mine.id) is None
    assert "Follow-up 2" not in client.get("/compose", headers=PANE).get_data(as_text=True)


def test_without_htmx_a_save_redirects(app, client, auth, team):
    auth.login(team.rita.email)
    token = auth.csrf_token("/mail/inbox")
    response = client.post(
        "/templates/new", data={"csrf_token": token, "name": "Plain", "subject": "s", "body": "b"}
    )
    [plain] = templates_named(app, "Plain")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/templates/{plain.id}/edit"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<html" in page
    assert 'value="Plain"' in page


def test_unknown_placeholder_is_refused_at_save_with_its_name(app, client, auth, team):
    auth.login(team.rita.email)
    response = save(
        client, auth, subject="Hello [candidate.firstname]", body="From [Sender.Name] at [company.name]"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in html
    assert 'id="template-editor"' in html
    assert "Unknown placeholder: [candidate.firstname]" in html
    assert "Unknown placeholder: [Sender.Name]" in html  # a look-alike would go out verbatim
    assert 'value="Hello [candidate.firstname]"' in html  # the text is kept for fixing
    assert templates_named(app, "Follow-up") == []
    missing = save(client, auth, name="")
    assert missing.status_code == 422
    assert "Give the template a name." in missing.get_data(as_text=True)


def test_recruiters_cannot_change_shared_or_others_templates(app, client, auth, team):
    auth.login(team.rita.email)
    token = auth.csrf_token("/mail/inbox")
    for template_id in (team.shared_id, team.sams_id, 999999):
        assert client.get(f"/templates/{template_id}/edit").status_code == 404
        assert save(client, auth, url=f"/templates/{template_id}/edit").status_code == 404
        assert (
            client.post(f"/templates/{template_id}/delete", headers={"X-CSRFToken": token}).status_code == 404
        )
    assert template(app, team.shared_id).name == "Team invite"
    assert template(app, team.sams_id) is not None
    copy = client.get(f"/templates/new?copy={team.shared_id}", headers=EDITOR).get_data(as_text=True)
    assert 'value="Copy of Team invite"' in copy
    assert "Sam" not in client.get(f"/templates/new?copy={team.sams_id}", headers=EDITOR).get_data(
        as_text=True
    )


def test_admins_manage_shared_templates_but_not_others_personal_ones(app, client, auth, team):
    auth.login(team.ada.email)
    assert "Shared with the team" in client.get("/templates/new").get_data(as_text=True)
    created = save(client, auth, name="Rejection", is_shared="y")
    assert created.status_code == 200
    [rejection] = templates_named(app, "Rejection")
    assert rejection.owner_id is None
    edited = save(client, auth, url=f"/templates/{team.shared_id}/edit", name="Team invite v2", is_shared="y")
    assert edited.status_code == 200
    assert template(app, team.shared_id).is_shared
    assert template(app, team.shared_id).name == "Team invite v2"
    assert client.get(f"/templates/{team.sams_id}/edit").status_code == 404  # personal means personal
    token = auth.csrf_token("/mail/inbox")
    assert client.post(f"/templates/{rejection.id}/delete", headers={"X-CSRFToken": token}).status_code == 303
    assert template(app, rejection.id) is None
    auth.logout()

    auth.login(team.rita.email)
    form = client.get("/compose", headers=PANE).get_data(as_text=True)
    assert ">Team invite v2<" in form
    page = client.get("/templates/").get_data(as_text=True)
    assert "Team invite v2" in page
    assert "Shared with the team" in page
    assert 'name="is_shared"' not in client.get("/templates/new").get_data(as_text=True)


def test_a_post_without_csrf_is_refused(app, client, auth, team):
    auth.login(team.rita.email)
    response = client.post("/templates/new", data={"name": "x", "subject": "y", "body": "z"}, headers=EDITOR)
    assert response.status_code == 400
    assert templates_named(app, "x") == []
