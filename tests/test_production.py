"""Production mode (HIREMAIL_ENV=production): refuses to start without the settings it needs."""

import pytest

from webapp.config import Config, ConfigError

COMPLETE = {
    "HIREMAIL_ENV": "production",
    "SECRET_KEY": "s" * 64,
    "INBOUND_SECRET": "i" * 64,
    "DATABASE_URL": "postgresql://hiremail@db/hiremail",
    "REDIS_URL": "redis://redis:6379/0",
}


def production(tmp_path, **changes) -> Config:
    env = {**COMPLETE, "INSTANCE_DIR": str(tmp_path), **changes}
    return Config({key: value for key, value in env.items() if value is not None})


def test_production_names_every_missing_setting_in_one_error(tmp_path):
    with pytest.raises(ConfigError) as refused:
        Config({"HIREMAIL_ENV": "production", "INSTANCE_DIR": str(tmp_path)})
    assert str(refused.value) == (
        "refusing to start with HIREMAIL_ENV=production: "
        "missing SECRET_KEY, DATABASE_URL, REDIS_URL, INBOUND_SECRET"
    )
    assert not (tmp_path / "secret_key").exists()  # no key is made up for production


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "INBOUND_SECRET"])
def test_production_names_the_one_missing_setting(tmp_path, missing):
    with pytest.raises(ConfigError, match=f"missing {missing}$"):
        production(tmp_path, **{missing: None})


def test_an_empty_setting_counts_as_missing(tmp_path):
    with pytest.raises(ConfigError, match="missing REDIS_URL"):
        production(tmp_path, REDIS_URL="")


def test_production_wants_an_inbound_secret_of_its_own(tmp_path):
    with pytest.raises(ConfigError, match="INBOUND_SECRET must differ from SECRET_KEY"):
        production(tmp_path, INBOUND_SECRET=COMPLETE["SECRET_KEY"])


def test_production_refuses_debug_mode(tmp_path):
    with pytest.raises(ConfigError, match="FLASK_DEBUG must be off"):
        production(tmp_path, FLASK_DEBUG="1")


def test_a_misspelt_environment_is_refused_not_taken_for_development(tmp_path):
    with pytest.raises(ConfigError, match="HIREMAIL_ENV must be one of development, production, not 'prod'"):
        production(tmp_path, HIREMAIL_ENV="prod")


def test_a_complete_production_config_starts_with_json_logs(tmp_path):
    config = production(tmp_path)
    assert config.PRODUCTION is True
    assert config.LOG_FORMAT == "json"
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://hiremail@db/hiremail"
    assert config.INBOUND_SECRET != config.SECRET_KEY
    assert config.SESSION_COOKIE_SECURE is True


def test_development_needs_nothing(tmp_path):
    config = Config({"INSTANCE_DIR": str(tmp_path)})
    assert config.PRODUCTION is False
    assert config.LOG_FORMAT == "text"
    assert config.REDIS_URL is None  # the embedded Redis
    assert (tmp_path / "secret_key").read_text().strip() == config.SECRET_KEY


def test_an_unknown_log_format_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="LOG_FORMAT must be json or text"):
        Config({"INSTANCE_DIR": str(tmp_path), "LOG_FORMAT": "xml"})


def test_the_worker_says_what_is_missing_and_exits(monkeypatch, capsys):
    import worker

    monkeypatch.setenv("HIREMAIL_ENV", "production")
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "INBOUND_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert worker.main([]) == 2
    assert "missing SECRET_KEY, DATABASE_URL, REDIS_URL, INBOUND_SECRET" in capsys.readouterr().err
