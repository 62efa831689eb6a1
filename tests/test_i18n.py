"""The UI in English and French: the user's choice, else the browser's language."""

import pytest

FRENCH_FOLDERS = [
    "Boîte de réception",
    "Envoyé",
    "Envoyer plus tard",
    "Tous les candidats",
    "Candidats suivis",
    "Offres suivies",
    "Non-candidats",
    "Archivé",
    "CV entrant",
]


@pytest.fixture
def rita(make):
    return make.user("Rita Recruiter")


def test_french_browser_gets_french_folder_names(client, auth, rita):
    auth.login(rita.email)
    html = client.get("/mail/inbox", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    html = html.replace("&#39;", "'")
    for name in FRENCH_FOLDERS:
        assert name in html, name
    assert '<html lang="fr">' in html


def test_english_by_default(client, auth, rita):
    auth.login(rita.email)
    html = client.get("/mail/inbox", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)
    assert "Inbox" in html
    assert "Boîte de réception" not in html


def test_users_choice_beats_the_browser(client, auth, rita):
    auth.login(rita.email)
    token = auth.csrf_token("/mail/inbox")
    response = client.post(
        "/settings/language", data={"locale": "fr", "csrf_token": token, "next": "/mail/sent"}
    )
    assert response.headers["Location"] == "/mail/sent"
    html = client.get("/mail/inbox", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert "Boîte de réception" in html
    client.post("/settings/language", data={"locale": "", "csrf_token": token})
    html = client.get("/mail/inbox", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert "Boîte de réception" not in html


def test_login_page_in_french(client):
    html = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Mot de passe" in html
    assert "Se connecter" in html


def test_every_message_is_translated():
    from pathlib import Path

    from babel.messages.pofile import read_po

    po = Path(__file__).resolve().parent.parent / "webapp/translations/fr/LC_MESSAGES/messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    missing = [
        m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str) else all(m.string))
    ]
    assert missing == []


def test_french_punctuation_never_starts_a_line():
    """French puts a space before : ; ? ! — a non-breaking one, so a line never starts with the sign."""
    import re
    from pathlib import Path

    from babel.messages.pofile import read_po

    po = Path(__file__).resolve().parent.parent / "webapp/translations/fr/LC_MESSAGES/messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    breakable = []
    for message in catalog:
        if not message.id:
            continue  # the catalog's header
        for text in [message.string] if isinstance(message.string, str) else message.string:
            if re.search(r"\S [:;?!](\s|$)", text):
                breakable.append(text)
    assert breakable == []
