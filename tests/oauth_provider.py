"""A small OAuth 2.0 provider for the tests, served from a thread on a free port.

It does what Google's and Microsoft's do for a mail client, strictly: the authorize step
(approves at once and redirects back with a code and the state), the token endpoint (code grant
with PKCE S256 checked, refresh grant, rotating refresh tokens) and an introspection endpoint
(RFC 7662) that Dovecot's oauth2 passdb asks whether an access token is good and whose it is.
A test can expire the access tokens or revoke a user's grant.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_ID = "hiremail-test-client"
CLIENT_SECRET = "hiremail-test-secret"


@dataclass
class Grant:
    user: str
    revoked: bool = False


@dataclass
class Provider:
    """The provider's state: codes, tokens, what was asked of it."""

    lifetime: int = 3600  # seconds an access token lasts
    codes: dict[str, dict] = field(default_factory=dict)
    access: dict[str, tuple[Grant, float]] = field(default_factory=dict)  # token -> grant, expiry
    refresh: dict[str, Grant] = field(default_factory=dict)
    refreshes: int = 0
    revocations: int = 0
    introspections: int = 0
    authorize_requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access = {t: (g, 0.0) for t, (g, _) in self.access.items()}

    def revoke(self, user: str) -> None:
        with self.lock:
            for grant, _ in self.access.values():
                if grant.user == user:
                    grant.revoked = True
            for grant in self.refresh.values():
                if grant.user == user:
                    grant.revoked = True

    def _issue(self, grant: Grant) -> dict:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = (grant, time.time() + self.lifetime)
        self.refresh[refresh] = grant
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "refresh_token": refresh,
            "scope": "mail",
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict | None]:
        self.authorize_requests.append(query)
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {}, {"error": "invalid_request"}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}, {"error": "invalid_request", "error_description": "PKCE S256 required"}
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {
                "user": query.get("login_hint", ""),
                "challenge": query["code_challenge"],
                "redirect_uri": query["redirect_uri"],
            }
        back = {"code": code, "state": query.get("state", "")}
        location = query["redirect_uri"] + "?" + urllib.parse.urlencode(back)
        return 302, {"Location": location}, None

    def token(self, form: dict[str, str]) -> tuple[int, dict]:
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        with self.lock:
            if form.get("grant_type") == "authorization_code":
                pending = self.codes.pop(form.get("code", ""), None)  # a code works once
                if pending is None or pending["redirect_uri"] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant", "error_description": "unknown code"}
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != pending["challenge"]:
                    return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
                return 200, self._issue(Grant(pending["user"]))
            if form.get("grant_type") == "refresh_token":
                grant = self.refresh.pop(form.get("refresh_token", ""), None)  # rotated: works once
                if grant is None or grant.revoked:
                    return 400, {"error": "invalid_grant", "error_description": "Token has been revoked."}
                self.refreshes += 1
                return 200, self._issue(grant)
        return 400, {"error": "unsupported_grant_type"}

    def revoke_token(self, form: dict[str, str]) -> int:
        """RFC 7009: the client's token and its grant's other tokens end; 200 even for an unknown one."""
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401
        with self.lock:
            self.revocations += 1
            token = form.get("token", "")
            grant = self.refresh.get(token) or self.access.get(token, (None, 0.0))[0]
            if grant is not None:
                grant.revoked = True
        return 200

    def introspect(self, form: dict[str, str]) -> dict:
        with self.lock:
            self.introspections += 1
            found = self.access.get(form.get("token", ""))
        if found is None or found[0].revoked or found[1] < time.time():
            return {"active": False}
        return {"active": True, "username": found[0].user, "client_id": CLIENT_ID}


class _Handler(BaseHTTPRequestHandler):
    provider: Provider

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict | None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/authorize":
            status, headers, body = self.provider.authorize(dict(urllib.parse.parse_qsl(url.query)))
            self._send(status, body, headers)
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/token":
            status, body = self.provider.token(self._form())
            self._send(status, body)
        elif path == "/revoke":
            status = self.provider.revoke_token(self._form())
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/introspect":
            self._send(200, self.provider.introspect(self._form()))
        else:
            self._send(404, {"error": "not_found"})


class OAuthServer:
    """The provider on 127.0.0.1, in a thread: `start()`, its URLs, `stop()`."""

    def __init__(self) -> None:
        self.provider = Provider()
        handler = type("Handler", (_Handler,), {"provider": self.provider})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "OAuthServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def authorize_url(self) -> str:
        return self.base + "/authorize"

    @property
    def token_url(self) -> str:
        return self.base + "/token"

    @property
    def revoke_url(self) -> str:
        return self.base + "/revoke"

    @property
    def introspection_url(self) -> str:
        return self.base + "/introspect"
