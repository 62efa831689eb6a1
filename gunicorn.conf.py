"""gunicorn's settings for the web process: `gunicorn -c gunicorn.conf.py wsgi:app` (docs/deploy.md).

gunicorn reads this file before it loads the app; the app's own settings come from
webapp/config.py. Every value here can be overridden on the command line or through
GUNICORN_CMD_ARGS.
"""

import multiprocessing
import os
import shutil

from prometheus_client import multiprocess

from webapp.observability import JsonFormatter

bind = os.environ.get("BIND", "0.0.0.0:8000")
# Requests wait on the database, not the CPU: two processes per CPU, a few threads each.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# The slowest legitimate request (a 25 MB webhook body, a large attachment) ends well within this.
# Never face clients directly: a slow client would hold a thread for its whole upload. nginx
# (deploy/nginx.conf) buffers each request and hands it over whole, at local speed.
timeout = 60
graceful_timeout = 30
keepalive = 5  # behind nginx, which keeps its own connections to clients
# Headers are small: a request line or header over these is refused (400) before the app.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Recycle processes now and then, staggered, so a slow leak never grows for weeks.
max_requests = 2000
max_requests_jitter = 200
# The proxy in front sets X-Forwarded-*; the app trusts them only with PROXY_FIX (webapp/config.py).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The app logs each request itself, with its request id and duration (webapp/observability.py).
accesslog = None
errorlog = "-"

production = os.environ.get("HIREMAIL_ENV") == "production"
if os.environ.get("LOG_FORMAT", "json" if production else "text") == "json":
    # gunicorn's own lines (start, worker timeouts) as JSON too; the root logger is the app's.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            # Silent: the app writes one line per request, with its request id (LOG_FORMAT=json).
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
        "root": {"level": "INFO", "handlers": []},
    }

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def on_starting(server):
    """Start with an empty metrics folder: files of a previous run would count twice."""
    if _metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
        os.makedirs(_metrics_dir, exist_ok=True)


def post_worker_init(worker):
    """Compile the app's templates before the worker's first request (webapp/templating.py)."""
    from webapp.templating import warm_templates  # the app is loaded by now

    app = worker.wsgi
    if hasattr(app, "jinja_env"):
        with app.app_context():
            warm_templates(app)


def child_exit(server, worker):
    """Let the merged metrics forget the live gauges of a worker process that is gone."""
    if _metrics_dir:
        multiprocess.mark_process_dead(worker.pid)
