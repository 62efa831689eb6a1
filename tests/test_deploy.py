"""The reference deployment's files agree with the app: compose.yaml, gunicorn.conf.py, deploy/.

Docker does not run where the tests run: these check what can be checked without it.
"""

import re
import runpy
from types import SimpleNamespace

import pytest

from webapp.config import REQUIRED_IN_PRODUCTION, ROOT
from webapp.queues import QUEUE_NAMES

yaml = pytest.importorskip("yaml")  # PyYAML comes with pre-commit (requirements-dev.txt)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


APP_SERVICES = ("migrate", "web", "worker", "listener")


def test_compose_starts_the_whole_stack(compose):
    assert set(compose["services"]) == {"postgres", "redis", *APP_SERVICES}
    for name in APP_SERVICES:
        assert compose["services"][name]["build"] == "."


def test_every_app_process_gets_what_production_requires_and_shares_the_storage(compose):
    for name in APP_SERVICES:
        service = compose["services"][name]
        environment = service["environment"]
        assert environment["HIREMAIL_ENV"] == "production"
        assert set(REQUIRED_IN_PRODUCTION) <= set(environment), name
        assert environment["SECRET_KEY"] != environment["INBOUND_SECRET"]
        assert "storage:/data/storage" in service["volumes"]
        assert environment["STORAGE_DIR"] == "/data/storage"


def test_the_processes_start_after_the_migrations(compose):
    for name in ("web", "worker", "listener"):
        assert compose["services"][name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }


def test_workers_serve_every_queue_and_the_listener_speaks_lmtp(compose):
    assert compose["services"]["worker"]["command"] == ["python", "worker.py", *QUEUE_NAMES]
    assert "--lmtp" in compose["services"]["listener"]["command"]


def test_only_the_web_uses_the_multiprocess_metrics_folder(compose):
    assert compose["services"]["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/run/prometheus"
    assert "PROMETHEUS_MULTIPROC_DIR" not in compose["services"]["worker"]["environment"]
    assert "PROMETHEUS_MULTIPROC_DIR" not in (ROOT / "Dockerfile").read_text().split("ENV HIREMAIL_ENV")[1]


def test_gunicorn_config_loads_and_sizes_itself_from_the_cpus(monkeypatch, tmp_path):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))
    monkeypatch.setenv("HIREMAIL_ENV", "production")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["workers"] >= 3
    assert conf["timeout"] == 60
    assert conf["logconfig_dict"]["loggers"]["gunicorn.access"]["handlers"] == []
    conf["on_starting"](None)
    assert (tmp_path / "prom").is_dir()


def test_a_web_worker_compiles_every_template_before_its_first_request(app):
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    app.jinja_env.cache.clear()
    conf["post_worker_init"](SimpleNamespace(wsgi=app))
    compiled = {name for _, name in app.jinja_env.cache}
    assert {"base.html", "mailbox/_row_view.html", "mailbox/_thread.html"} <= compiled
    assert len(compiled) == len(app.jinja_env.list_templates(extensions=("html",)))


def test_the_env_example_names_every_required_setting():
    names = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / "deploy/env.example").read_text(), re.M))
    assert set(REQUIRED_IN_PRODUCTION) <= names | {"DATABASE_URL", "REDIS_URL"}
    assert {"SECRET_KEY", "INBOUND_SECRET", "METRICS_TOKEN"} <= names


def test_postfix_transport_points_at_the_listener_port(compose):
    transport = (ROOT / "deploy/postfix/transport").read_text()
    assert "lmtp:inet:[127.0.0.1]:2525" in transport
    assert "127.0.0.1:2525:2525" in compose["services"]["listener"]["ports"]
