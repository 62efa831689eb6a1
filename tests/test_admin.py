"""The operator's tools: the admin pages (queues, users, offer access) and `flask admin`."""

import pytest
from sqlalchemy import select

from tests.dom import parse
from webapp.extensions import db
from webapp.models import AuditLog, OfferAccess, User
from webapp.queues import get_queue


@pytest.fixture
def team(make_team):
    return make_team(
        offers={"job": "Backend", "pool": "Talent Pool"},
        users={"Ada Admin": "admin", "Rita Recruiter": ["job"], "Sam Recruiter": []},
    )


@pytest.fixture
def admin(auth, team):
    auth.login(team.ada.email)
    return auth


def failing_job() -> None:
    """A job that fails (run by the worker below)."""
    raise RuntimeError("the SMTP server said no")


@pytest.fixture
def failed_job(app, redis):
    """A job in this run's failed registry, as a worker leaves it."""
    from rq import SimpleWorker

    with app.app_context():
        job = get_queue("default").enqueue(failing_job)
        SimpleWorker([get_queue("default")], connection=redis).work(burst=True)
        assert job.get_status(refresh=True) == "failed"
    return job


def access(app, user) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(select(OfferAccess.offer_id).where(OfferAccess.user_id == user.id)))


def is_active(app, user) -> bool:
    with app.app_context():
        return db.session.get(User, user.id).is_active_user


def actions(app) -> list[tuple]:
    with app.app_context():
        # Sign-ins and sign-outs are audited too (tests/security/test_sessions.py): the rest here.
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.action.notin_(("login", "logout", "login_failed")))
        )
        return [(a.user_id, a.action, a.target_id, a.details) for a in rows]


# --- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/queues", "/admin/users", "/admin/offers"])
def test_admin_pages_are_404_for_recruiters(client, auth, team, path):
    auth.login(team.rita.email)
    assert client.get(path).status_code == 404


def test_a_recruiter_cannot_post_to_them_either(client, auth, team):
    auth.login(team.rita.email)
    token = auth.csrf_token("/mail/inbox")
    response = client.post(f"/admin/users/{team.sam.id}/active", data={"active": "0", "csrf_token": token})
    assert response.status_code == 404


def test_every_post_needs_the_csrf_token(app, client, admin, team):
    response = client.post(f"/admin/users/{team.sam.id}/active", data={"active": "0"})
    assert response.status_code == 400
    assert is_active(app, team.sam)


def test_queue_page_shows_depths_and_failed_jobs_with_their_errors(client, admin, failed_job):
    page = parse(client.get("/admin/queues").get_data(as_text=True))
    default = page.find("tr", id="queue-default").find_all("td")
    assert [td.text.strip() for td in default[1:5]] == ["0", "0", "0", "1"]
    row = page.find("tr", id=f"failed-{failed_job.id}")
    assert "RuntimeError: the SMTP server said no" in row.text
    assert "failing_job" in row.text


def test_requeue_a_failed_job_from_the_page(app, client, admin, failed_job):
    token = admin.csrf_token("/admin/queues")
    response = client.post("/admin/queues/requeue", data={"job_id": failed_job.id, "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert failed_job.id in get_queue("default").get_job_ids()
    assert (
        client.post("/admin/queues/requeue", data={"job_id": "nope", "csrf_token": token}).status_code == 404
    )


def test_requeue_all_from_the_page(app, client, admin, failed_job):
    token = admin.csrf_token("/admin/queues")
    client.post("/admin/queues/requeue", data={"all": "1", "csrf_token": token})
    assert "No failed jobs." in client.get("/admin/queues").get_data(as_text=True)


def test_deactivate_and_reactivate_a_user(app, client, admin, auth, team):
    token = admin.csrf_token("/admin/users")
    client.post(f"/admin/users/{team.rita.id}/active", data={"active": "0", "csrf_token": token})
    assert not is_active(app, team.rita)
    assert (team.ada.id, "deactivate_user", team.rita.id, {}) in actions(app)
    client.post(f"/admin/users/{team.rita.id}/active", data={"active": "1", "csrf_token": token})
    assert is_active(app, team.rita)


def test_a_deactivated_user_is_signed_out_and_cannot_sign_in(app, make, client, auth, team):
    from webapp.admin import operations

    auth.login(team.rita.email)
    assert client.get("/mail/inbox").status_code == 200
    with app.app_context():
        operations.set_active(None, db.session.get(User, team.rita.id), False)
        db.session.commit()
    assert client.get("/mail/inbox").status_code == 302
    assert auth.login(team.rita.email).status_code != 302


def test_an_admin_cannot_deactivate_themselves(app, client, admin, team):
    token = admin.csrf_token("/admin/users")
    response = client.post(f"/admin/users/{team.ada.id}/active", data={"active": "0", "csrf_token": token})
    assert response.status_code == 422
    assert "you cannot deactivate yourself" in response.get_data(as_text=True)
    assert is_active(app, team.ada)


def test_a_generated_password_is_shown_once_and_works(app, client, admin, auth, team):
    token = admin.csrf_token("/admin/users")
    response = client.post(f"/admin/users/{team.rita.id}/password", data={"csrf_token": token})
    assert response.headers["Cache-Control"] == "no-store"
    password = parse(response.get_data(as_text=True)).find(id="new-password").find("code").text
    assert len(password) >= 16
    assert password not in client.get("/admin/users").get_data(as_text=True)
    assert (team.ada.id, "reset_password", team.rita.id, {"generated": True}) in actions(app)
    auth.logout()
    assert auth.login(team.rita.email, password).status_code == 302


def test_grant_and_revoke_offer_access_from_the_page(app, client, admin, team):
    token = admin.csrf_token("/admin/offers")
    grant = {"user_id": team.sam.id, "action": "grant", "csrf_token": token}
    assert client.post(f"/admin/offers/{team.pool.id}/access", data=grant).status_code == 302
    assert access(app, team.sam) == {team.pool.id}
    page = parse(client.get("/admin/offers").get_data(as_text=True))
    assert "Sam Recruiter" in page.find("tr", id=f"offer-{team.pool.id}").text
    revoke = {"user_id": team.rita.id, "action": "revoke", "csrf_token": token}
    client.post(f"/admin/offers/{team.job.id}/access", data=revoke)
    assert access(app, team.rita) == set()
    assert (team.ada.id, "revoke_offer_access", team.rita.id, {"offer": "backend"}) in actions(app)


# --- flask admin ---------------------------------------------------------------------------------


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kw: runner.invoke(args=["admin", *args], **kw)


def test_cli_lists_offers_and_their_teams(cli, team):
    result = cli("offers")
    assert result.exit_code == 0
    assert "backend\tBackend (job, open)\trita@team.test" in result.output
    assert "talent-pool\tTalent Pool (job, open)\t(nobody but admins)" in result.output


def test_cli_grants_and_revokes_access(app, cli, team):
    assert cli("grant", "SAM@team.test", "backend").output == "sam@team.test now has access to backend.\n"
    assert cli("grant", "sam@team.test", "backend").output == "sam@team.test already had access to backend.\n"
    assert access(app, team.sam) == {team.job.id}
    assert cli("revoke", "sam@team.test", "backend").exit_code == 0
    assert access(app, team.sam) == set()
    assert (None, "grant_offer_access", team.sam.id, {"offer": "backend"}) in actions(app)


def test_cli_names_what_it_cannot_find(cli, team):
    result = cli("grant", "nobody@team.test", "backend")
    assert result.exit_code == 1
    assert "Error: no user with email nobody@team.test" in result.output
    assert "Error: no offer nope" in cli("revoke", "sam@team.test", "nope").output


def test_cli_deactivates_and_reactivates(app, cli, team):
    assert cli("deactivate", "rita@team.test").output == "rita@team.test deactivated.\n"
    assert not is_active(app, team.rita)
    assert "rita@team.test\tRita Recruiter\trecruiter\tdeactivated" in cli("users").output
    assert cli("reactivate", "rita@team.test").exit_code == 0
    assert is_active(app, team.rita)


def test_cli_resets_a_password_asked_for_twice(app, cli, client, auth, team):
    result = cli("reset-password", "rita@team.test", input="new-secret-1\nnew-secret-1\n")
    assert result.exit_code == 0, result.output
    assert auth.login(team.rita.email, "new-secret-1").status_code == 302


def test_cli_refuses_a_short_password(cli, team):
    result = cli("reset-password", "rita@team.test", input="short\nshort\n")
    assert result.exit_code == 1
    assert "use at least 8 characters" in result.output


def test_cli_generates_a_password_and_prints_it_once(cli, auth, team):
    result = cli("reset-password", "rita@team.test", "--generate")
    password = result.output.rsplit(": ", 1)[1].strip()
    assert auth.login(team.rita.email, password).status_code == 302


def test_cli_lists_failed_jobs_and_requeues_them(app, cli, failed_job):
    listed = cli("failed-jobs").output
    assert failed_job.id in listed
    assert "RuntimeError: the SMTP server said no" in listed
    assert "Traceback" in cli("failed-jobs", "--traceback").output
    assert cli("requeue", "missing-id").exit_code == 1
    assert cli("requeue", failed_job.id).output == "Requeued 1 job(s).\n"
    assert cli("failed-jobs").output == "No failed jobs.\n"
    with app.app_context():
        assert failed_job.id in get_queue("default").get_job_ids()


def test_cli_requeue_wants_ids_or_all(cli, failed_job):
    assert cli("requeue").exit_code == 2
    assert cli("requeue", "--all").output == "Requeued 1 job(s).\n"
