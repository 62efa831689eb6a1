"""A real IMAP server for the tests: Debian's Dovecot, on free ports, configured in a temporary folder.

`Dovecot(folder).start()` writes its own config (passwd-file users, maildirs under the folder,
plaintext login allowed on localhost, implicit TLS and STARTTLS with a self-signed certificate
made here), runs `dovecot -F` as a child process and stops it with `stop()`. Nothing of the
system's Dovecot (its config, its service) is used.
"""

import contextlib
import datetime
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
NOT_INSTALLED = "Dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(folder: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A throwaway certificate and key for `host` (also its own CA, for clients that trust it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Dovecot:
    """One Dovecot server with its users, in `folder` (which must not be inside a private folder)."""

    def __init__(
        self,
        folder: Path,
        sent_name: str = "Sent",
        oauth2_introspection: str | None = None,
        quota_messages: int | None = None,
    ):
        self.folder = folder
        # With a quota, a mailbox holding that many messages refuses more ([OVERQUOTA]).
        self.quota_messages = quota_messages
        # With an introspection URL, XOAUTH2 / OAUTHBEARER logins are checked there (oauth2 passdb).
        self.oauth2_introspection = oauth2_introspection
        # The folder marked \\Sent (SPECIAL-USE); a plain "Old Sent" sits beside another name.
        self.sent_name = sent_name
        self.port = free_port()
        self.tls_port = free_port()
        self.host = "127.0.0.1"
        self.process: subprocess.Popen | None = None
        self.users: dict[str, str] = {}
        if os.geteuid() == 0:
            # Dovecot refuses to run mail processes as root: the mail belongs to `nobody`.
            entry = pwd.getpwnam("nobody")
            self.mail_uid, self.mail_gid = entry.pw_uid, entry.pw_gid
            self.run_user = None
        else:  # a rootless Dovecot: everything runs as the user running the tests
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            self.run_user = pwd.getpwuid(os.getuid()).pw_name

    # -- setup -----------------------------------------------------------------------------
    def add_user(self, name: str, password: str) -> None:
        self.users[name] = password
        home = self.folder / "home" / name
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, self.mail_uid, self.mail_gid)
        self._write_passwd()

    def _write_passwd(self) -> None:
        lines = [
            f"{name}:{{PLAIN}}{pw}:{self.mail_uid}:{self.mail_gid}::{self.folder / 'home' / name}::"
            for name, pw in self.users.items()
        ]
        (self.folder / "passwd").write_text("\n".join(lines) + "\n")

    def _write_config(self) -> Path:
        f = self.folder
        for sub in ("run", "state", "home"):
            (f / sub).mkdir(exist_ok=True)
        self._write_passwd()
        self.cert, self.key = (
            self_signed(f) if not (f / "cert.pem").exists() else (f / "cert.pem", f / "key.pem")
        )
        users = ""
        if self.run_user:
            users = (
                f"default_login_user = {self.run_user}\ndefault_internal_user = {self.run_user}\n"
                f"service anvil {{\n  chroot =\n}}\nservice imap-login {{\n  chroot =\n}}\n"
            )
        mechanisms = "\n  mechanisms = plain login" if self.oauth2_introspection else ""
        config = f"""
base_dir = {f / "run"}
state_dir = {f / "state"}
log_path = {f / "dovecot.log"}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
disable_plaintext_auth = no
auth_mechanisms = plain login{" xoauth2 oauthbearer" if self.oauth2_introspection else ""}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {f / "passwd"}{mechanisms}
}}
{self._oauth2_passdb()}userdb {{
  driver = passwd-file
  args = username_format=%u {f / "passwd"}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox "{self.sent_name}" {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox "Old Sent" {{
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Archive {{
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
{users}{self._quota()}"""
        path = f / "dovecot.conf"
        path.write_text(config)
        return path

    def _quota(self) -> str:
        """Dovecot's quota plugin (Maildir++ quota), counting messages, when one is asked for."""
        if self.quota_messages is None:
            return ""
        return (
            "mail_plugins = $mail_plugins quota\n"
            f"plugin {{\n  quota = maildir:User quota\n  quota_rule = *:messages={self.quota_messages}\n}}\n"
        )

    def _oauth2_passdb(self) -> str:
        """Dovecot 2.3's oauth2 passdb: each token POSTed to the introspection URL (RFC 7662)."""
        if not self.oauth2_introspection:
            return ""
        path = self.folder / "dovecot-oauth2.conf.ext"
        path.write_text(
            f"introspection_mode = post\n"
            f"introspection_url = {self.oauth2_introspection}\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        return f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {path}\n}}\n"

    # -- life ------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> "Dovecot":
        if DOVECOT is None:
            raise RuntimeError(NOT_INSTALLED)
        config = self._write_config()
        self.folder.chmod(0o755)
        (self.folder / "home").chmod(0o755)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()} {self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {self.log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        # The master's children (imap, auth) end with it; wait until the port is free again.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.1).close()
                time.sleep(0.05)
            except OSError:
                return

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    # -- mail ------------------------------------------------------------------------------
    def imap(self, user: str) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(user, self.users[user])
        return conn

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX", flags: str = "") -> None:
        """Put one message into a user's folder (IMAP APPEND, as a mail server would file it)."""
        conn = self.imap(user)
        try:
            # imaplib sends the name as given: quoted, a name with a space stays one word.
            typ, data = conn.append(f'"{folder}"', flags or None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        base = self.folder / "home" / user / "Maildir"
        return base if folder == "INBOX" else base / f".{folder}"

    def change_uidvalidity(self, user: str, folder: str = "INBOX") -> None:
        """Give a folder a new UIDVALIDITY (as a server rebuilding its index does); server stopped."""
        path = self.maildir(user, folder)
        uidlist = path / "dovecot-uidlist"
        lines = uidlist.read_text().splitlines()
        head = [(f"V{int(part[1:]) + 1000}" if part.startswith("V") else part) for part in lines[0].split()]
        uidlist.write_text("\n".join([" ".join(head), *lines[1:]]) + "\n")
        for index in path.glob("dovecot.index*"):
            index.unlink()


@contextlib.contextmanager
def running_dovecot(users: dict[str, str], **options) -> Iterator[Dovecot]:
    """A Dovecot in a folder of its own with these users (address: password), started; removed after."""
    folder = Path(tempfile.mkdtemp(prefix="hiremail-dovecot-"))
    server = Dovecot(folder, **options)
    for user, password in users.items():
        server.add_user(user, password)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def mail(
    sender: str, to: str, subject: str, *, cc: str = "", mid: str | None = None, extra: str = ""
) -> bytes:
    """A small message with a Message-ID (derived from the subject unless given), to deliver."""
    from webapp.models.types import utcnow

    mid = mid or f"<{subject.lower().replace(' ', '-')}@mail.test>"
    date = format_datetime(utcnow() - timedelta(hours=1))
    head = f"From: {sender}\r\nTo: {to}\r\n" + (f"Cc: {cc}\r\n" if cc else "")
    head += f"Subject: {subject}\r\nMessage-ID: {mid}\r\nDate: {date}\r\n{extra}"
    return (head + f"\r\nHello, this is {subject}.\r\n").encode()


def sync(app, connection_id: int) -> int | None:
    """Run the sync job as a worker would, then classify what it stored (the classify queue's work)."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.jobs.sync import sync_job
    from webapp.mail.inbound.pipeline import classify_stored
    from webapp.models import Direction, Message
    from webapp.services import blob_store, mail_domain

    with app.app_context():
        result = sync_job(connection_id)
        for message_id in db.session.scalars(
            select(Message.id).where(Message.outcome.is_(None), Message.direction == Direction.INBOUND)
        ).all():
            classify_stored(message_id, settings=mail_domain(), store=blob_store())
        return result
