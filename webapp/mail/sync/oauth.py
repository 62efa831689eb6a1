"""OAuth 2.0 for Gmail / Microsoft 365 mailboxes: providers, the authorization-code flow with PKCE, tokens.

A provider is configured from the environment (`MAILBOX_OAUTH_<NAME>_CLIENT_ID` and friends,
see `providers_from_env`); Google's and Microsoft's URLs, scopes and IMAP servers are the
defaults. The flow: `start` makes the state and the PKCE verifier (kept in the user's session)
and the authorize URL; the callback's code is exchanged (`exchange_code`) for an access token
(short-lived, used for IMAP XOAUTH2) and a refresh token (kept encrypted, used to get the next
access token: `refresh`). A refused refresh ("invalid_grant": revoked, expired) is an
`OAuthError` with `revoked` set: the user must connect again.
"""

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)  # (not webapp.models: the config reads this module)


# What a provider is called in the environment and on the page, with its defaults.
DEFAULTS: dict[str, dict[str, str]] = {
    "google": {
        "label": "Google (Gmail)",
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "scopes": "https://mail.google.com/",
        "imap_host": "imap.gmail.com",
        "imap_port": "993",
        "imap_security": "tls",
        # Google gives a refresh token only when asked for offline access, and again only with consent.
        "extra": "access_type=offline&prompt=consent",
        # RFC 7009: disconnecting withdraws the grant there too.
        "revoke_url": "https://oauth2.googleapis.com/revoke",
    },
    "microsoft": {
        "label": "Microsoft 365 (Outlook)",
        "authorize_url": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "token_url": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "scopes": "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
        "imap_host": "outlook.office365.com",
        "imap_port": "993",
        "imap_security": "tls",
        "extra": "",
        # Microsoft has no revocation endpoint for a delegated grant: the user removes it in their
        # account's settings (the page says so on disconnecting).
        "revoke_url": "",
    },
}
SETTINGS = (
    "label",
    "authorize_url",
    "token_url",
    "scopes",
    "imap_host",
    "imap_port",
    "imap_security",
    "extra",
    "revoke_url",
)
# An access token this close to its expiry is renewed before use.
RENEW_BEFORE = timedelta(minutes=5)
HTTP_TIMEOUT_S = 20.0


class OAuthError(Exception):
    """The provider refused or could not be reached; `revoked`: the grant is gone (connect again)."""

    def __init__(self, detail: str, *, revoked: bool = False):
        super().__init__(detail)
        self.detail = detail[:500]
        self.revoked = revoked


@dataclass(frozen=True)
class Provider:
    """One OAuth provider: the app's client, its endpoints and scopes, and its IMAP server."""

    name: str
    label: str
    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str
    token_url: str
    scopes: str
    imap_host: str
    imap_port: int
    imap_security: str = "tls"
    extra: str = ""
    revoke_url: str = ""  # RFC 7009 token revocation; "" when the provider has none


def providers_from_env(env: Mapping[str, str]) -> dict[str, Provider]:
    """The providers with a client id in the environment, each setting overridable
    (`MAILBOX_OAUTH_GOOGLE_CLIENT_ID`, `..._CLIENT_SECRET`, `..._AUTHORIZE_URL`, `..._TOKEN_URL`,
    `..._SCOPES`, `..._IMAP_HOST`, `..._IMAP_PORT`, `..._REVOKE_URL`; the same with MICROSOFT)."""
    found = {}
    for name, defaults in DEFAULTS.items():
        prefix = f"MAILBOX_OAUTH_{name.upper()}_"
        client_id = env.get(prefix + "CLIENT_ID")
        if not client_id:
            continue
        values = {key: env.get(prefix + key.upper()) or defaults[key] for key in SETTINGS}
        found[name] = Provider(
            name=name,
            client_id=client_id,
            client_secret=env.get(prefix + "CLIENT_SECRET", ""),
            imap_port=int(values.pop("imap_port")),
            **values,
        )
    return found


@dataclass(frozen=True)
class Tokens:
    """What the token endpoint gave: an access token, when it expires, and the refresh token."""

    access_token: str
    expires_at: datetime
    refresh_token: str | None = None
    scope: str = field(default="")


@dataclass(frozen=True)
class Started:
    """A started authorization: where to send the browser, and what the session keeps for the callback."""

    url: str
    state: str
    verifier: str


def _challenge(verifier: str) -> str:
    """The PKCE S256 challenge: base64url(SHA-256(verifier)) without padding (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def start(provider: Provider, redirect_uri: str, login_hint: str = "") -> Started:
    """A fresh state and PKCE verifier, and the provider's authorize URL asking for a code."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters: within RFC 7636's 43..128
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "scope": provider.scopes,
        "state": state,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    params.update(urllib.parse.parse_qsl(provider.extra))
    separator = "&" if "?" in provider.authorize_url else "?"
    return Started(provider.authorize_url + separator + urllib.parse.urlencode(params), state, verifier)


def _post(provider: Provider, form: dict[str, str], timeout: float, url: str = "") -> dict:
    """POST to the token endpoint (or `url`); its JSON answer, or OAuthError (revoked on invalid_grant)."""
    body = urllib.parse.urlencode(
        form | {"client_id": provider.client_id, "client_secret": provider.client_secret}
    ).encode()
    request = urllib.request.Request(
        url or provider.token_url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # the configured https URL
            answer = response.read()
            try:
                return json.loads(answer or b"{}")
            except ValueError:  # a revocation endpoint may answer 200 with an empty or plain body
                return {}
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read() or b"{}")
        except ValueError:
            answer = {}
        error = str(answer.get("error") or f"HTTP {exc.code}")
        said = str(answer.get("error_description") or "")
        raise OAuthError(f"{error}: {said}" if said else error, revoked=error == "invalid_grant") from exc
    except (OSError, ValueError) as exc:
        raise OAuthError(f"the token endpoint could not be reached: {exc}") from exc


def _tokens(answer: dict) -> Tokens:
    token = answer.get("access_token")
    if not token:
        raise OAuthError("the token endpoint gave no access token")
    lifetime = int(answer.get("expires_in") or 3600)
    return Tokens(
        access_token=str(token),
        expires_at=utcnow() + timedelta(seconds=lifetime),
        refresh_token=answer.get("refresh_token") or None,
        scope=str(answer.get("scope") or ""),
    )


def exchange_code(
    provider: Provider, code: str, verifier: str, redirect_uri: str, timeout: float = HTTP_TIMEOUT_S
) -> Tokens:
    """The callback's code exchanged for tokens (with the PKCE verifier); OAuthError if refused."""
    answer = _post(
        provider,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        timeout,
    )
    tokens = _tokens(answer)
    if not tokens.refresh_token:
        raise OAuthError("the provider gave no refresh token (offline access was not granted)")
    return tokens


def refresh(provider: Provider, refresh_token: str, timeout: float = HTTP_TIMEOUT_S) -> Tokens:
    """A new access token (and maybe a new refresh token); OAuthError, revoked when the grant is gone."""
    return _tokens(_post(provider, {"grant_type": "refresh_token", "refresh_token": refresh_token}, timeout))


def needs_renewal(expires_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether an access token expiring at `expires_at` should be renewed before use."""
    return expires_at is None or expires_at - RENEW_BEFORE <= (now or utcnow())


def revoke(provider: Provider, refresh_token: str, timeout: float = HTTP_TIMEOUT_S) -> bool:
    """Withdraw the grant behind this refresh token at the provider (RFC 7009, which also ends the
    access tokens it gave); False when the provider has no revocation endpoint, OAuthError when it
    refused or could not be reached. A token the provider no longer knows counts as revoked."""
    if not provider.revoke_url:
        return False
    form = {"token": refresh_token, "token_type_hint": "refresh_token"}
    try:
        _post(provider, form, timeout, url=provider.revoke_url)
    except OAuthError as refused:
        if not refused.detail.startswith(("invalid_token", "invalid_grant")):
            raise
    return True
