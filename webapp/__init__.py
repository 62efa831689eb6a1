"""The application factory: the web process, the worker and the tests all start here."""

import secrets

from flask import Flask, g, has_request_context, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

# changes: its session events move the change generations that kept pages are checked against.
from webapp import changes, metrics, observability, page_cache, request_limits, services  # noqa: F401
from webapp.config import ROOT, Config
from webapp.extensions import babel, csrf, db, login_manager, migrate, ping_when_idle
from webapp.templating import HTMX_CDN_URL, register_templating
from webapp.transfer import register_transfer


def create_app(config: Config | dict | None = None) -> Flask:
    """Build the app from `config` (default: the environment)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    settings = config if isinstance(config, dict) else (config or Config()).as_dict()
    app.config.update(settings)
    register_operations(app)
    services.init_app(app)
    register_extensions(app)
    # Before the blueprints' login check: a page seen again needs no user loaded.
    app.before_request(page_cache.serve_early)
    register_blueprints(app)
    register_errorhandlers(app)
    register_cli(app)
    register_security_headers(app)
    register_transfer(app)
    return app


def register_operations(app: Flask) -> None:
    """Logs with request ids, request metrics, and the client address behind a trusted proxy."""
    # Before the blueprints: a request the login guard turns away still gets its id and timing.
    observability.init_app(app)
    metrics.init_app(app)
    request_limits.init_app(app)  # before CSRF, which reads the body
    proxies = app.config.get("PROXY_FIX", 0)
    if proxies:
        # Only with a proxy in front: otherwise any client could choose its address and scheme.
        # Flask's `app.wsgi_app = ProxyFix(app.wsgi_app)`, spelled so mypy accepts the assignment.
        vars(app)["wsgi_app"] = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def select_locale() -> str | None:
    """The user's chosen language, else the browser's best match."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # jobs and CLI commands speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str | None:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.timezone
    return None


def register_extensions(app: Flask) -> None:
    from webapp import models  # noqa: F401  (registers the tables)

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_when_idle(engine)
    from webapp.mail.read.search import include_in_autogenerate

    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        include_object=include_in_autogenerate,
    )
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    register_templating(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    from webapp.auth import sessions

    # A session or remember cookie names a login, checked on the server (webapp/auth/sessions.py).
    login_manager.user_loader(sessions.load)


def register_blueprints(app: Flask) -> None:
    from webapp.account import bp as account_bp
    from webapp.admin import bp as admin_bp
    from webapp.auth import bp as auth_bp
    from webapp.bulk import bp as bulk_bp
    from webapp.compose import bp as compose_bp
    from webapp.mailbox import bp as mailbox_bp
    from webapp.mailbox_sync import bp as mailbox_sync_bp
    from webapp.mailtemplates import bp as mailtemplates_bp
    from webapp.main import bp as main_bp
    from webapp.people.routes import bp as people_bp
    from webapp.privacy.routes import bp as privacy_bp
    from webapp.receiving import bp as receiving_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(mailbox_bp)
    app.register_blueprint(receiving_bp)
    app.register_blueprint(compose_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(people_bp)
    app.register_blueprint(mailtemplates_bp)
    app.register_blueprint(bulk_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(mailbox_sync_bp)
    app.register_blueprint(account_bp)


def register_errorhandlers(app: Flask) -> None:
    from webapp.main.errors import handle_http_error

    for code in (400, 403, 404, 405, 413, 500):
        app.register_error_handler(code, handle_http_error)


def register_cli(app: Flask) -> None:
    from webapp.admin.cli import admin_cli
    from webapp.cli import folders_cli, seed_command, users_cli
    from webapp.receiving.cli import mail_cli

    app.cli.add_command(admin_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(folders_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(seed_command)


def register_security_headers(app: Flask) -> None:
    @app.before_request
    def make_nonce():
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.after_request
    def security_headers(response):
        # A response made before make_nonce ran (a login redirect, a kept page) has no inline
        # script: any fresh value will do.
        nonce = getattr(g, "csp_nonce", None) or secrets.token_urlsafe(16)
        # The one script the CDN may serve (with its SRI hash in templates/base.html), never the
        # whole of unpkg.com; the local copy of the same version loads when the CDN fails.
        cdn = f" {HTMX_CDN_URL}" if app.config.get("HTMX_CDN") else ""
        # img-src allows https: because a message's srcdoc iframe inherits this policy: remote
        # images could never show otherwise. Each iframe's own meta CSP still blocks them until
        # the user clicks "Show images" for that message (templates/mailbox/_message_body.html).
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'{cdn}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; frame-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if app.config.get("HSTS"):  # production: https only, for a year (nginx sends it too: docs/deploy.md)
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            # Candidate data (pages, fragments, CVs) stays out of every cache, the browser's
            # history and back button included: nothing is left behind on a shared computer.
            response.cache_control.no_store = True
        # Pages and their htmx fragments share URLs: caches must key on the header.
        response.vary.add("HX-Request")
        return response
