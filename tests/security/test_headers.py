"""Security headers: the CSP names the one htmx script (with SRI) instead of a whole CDN; HSTS in
production; no page, fragment or file with candidate data is ever cached."""

import pytest

from tests.dom import parse
from webapp.templating import HTMX_CDN_URL, HTMX_INTEGRITY, HTMX_VERSION


@pytest.fixture
def rita(make):
    return make.user("Rita Recruiter")


def script_src(response) -> list[str]:
    policy = response.headers["Content-Security-Policy"]
    directive = next(d.strip() for d in policy.split(";") if d.strip().startswith("script-src"))
    return directive.split()[1:]


def test_the_cdn_is_allowed_for_the_exact_htmx_file_only(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "HTMX_CDN", True)
    response = client.get("/login")
    sources = script_src(response)
    assert f"https://unpkg.com/htmx.org@{HTMX_VERSION}/dist/htmx.min.js" == HTMX_CDN_URL
    assert HTMX_CDN_URL in sources
    assert not any(s.rstrip("/") == "https://unpkg.com" for s in sources)
    assert [s for s in sources if s.startswith("http")] == [HTMX_CDN_URL]
    page = parse(response.get_data(as_text=True))
    cdn = page.one("script", src=HTMX_CDN_URL)
    assert cdn.get("integrity") == HTMX_INTEGRITY
    assert cdn.get("crossorigin") == "anonymous"
    # The local fallback of the same version stays.
    assert f"vendor/htmx-{HTMX_VERSION}.min.js" in response.get_data(as_text=True)


def test_without_the_cdn_scripts_come_from_the_site_only(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "HTMX_CDN", False)
    assert not [s for s in script_src(client.get("/login")) if s.startswith("http")]


def test_the_local_htmx_matches_the_pinned_version(app):
    from webapp.config import ROOT

    assert (ROOT / "static" / "vendor" / f"htmx-{HTMX_VERSION}.min.js").is_file()


def test_hsts_in_production_only(app, client, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/login").headers  # make run: plain http
    monkeypatch.setitem(app.config, "HSTS", True)
    assert client.get("/login").headers["Strict-Transport-Security"] == "max-age=31536000"


def test_hsts_follows_the_environment():
    from webapp.config import Config

    base = {"SECRET_KEY": "x", "INSTANCE_DIR": "/nonexistent"}
    assert Config(base).HSTS is False
    production = {
        **base,
        "HIREMAIL_ENV": "production",
        "DATABASE_URL": "postgresql://db/x",
        "REDIS_URL": "redis://r",
        "INBOUND_SECRET": "y",
    }
    assert Config(production).HSTS is True


def test_pages_fragments_and_files_with_candidate_data_are_never_stored(app, client, auth, make, rita):
    job = make.offer("Backend")
    make.grant(rita, job)
    alice = make.candidate("Alice Able", offers=[job])
    msg = make.message(candidate=alice, to_users=[rita], attachment="cv.pdf")
    auth.login(rita.email)
    from webapp.extensions import db
    from webapp.models import Attachment

    with app.app_context():
        attachment_id = db.session.query(Attachment.id).filter_by(message_id=msg.id).scalar()
        from webapp.services import blob_store

        att = db.session.get(Attachment, attachment_id)
        att.sha256 = blob_store().put(b"%PDF-1.4 cv")
        db.session.commit()
    pane = {"HX-Request": "true", "HX-Target": "message-pane"}
    for url, headers in [
        ("/mail/inbox", {}),
        (f"/mail/inbox/{msg.thread_id}", {}),
        (f"/mail/inbox/{msg.thread_id}", pane),
        (f"/candidates/{alice.id}", {}),
        (f"/attachments/{attachment_id}", {}),
        (f"/mail/messages/{msg.id}/body", {}),
        ("/search?q=Alice", {}),
    ]:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert "no-store" in response.headers["Cache-Control"], url
    # Static files keep their caching.
    assert "no-store" not in (client.get("/static/css/app.css").headers.get("Cache-Control") or "")
