"""Configuration: files plus EDMS_* overrides; production refuses unsafe settings."""
import pytest

from edms.config import ConfigError, load_settings


def test_default_is_sqlite_in_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("EDMS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EDMS_DATABASE_URL", raising=False)
    settings = load_settings("development")
    assert settings.database_url == f"sqlite:///{tmp_path / 'edms.sqlite3'}"
    assert settings.idle_minutes == 15
    assert settings.password.lockout_threshold == 5


def test_environment_variables_override_files(monkeypatch):
    monkeypatch.setenv("EDMS_IDLE_MINUTES", "5")
    monkeypatch.setenv("EDMS_PASSWORD_MIN_LENGTH", "16")
    settings = load_settings("testing")
    assert settings.idle_minutes == 5
    assert settings.password.min_length == 16


@pytest.mark.req("11.30")
def test_production_refuses_the_development_secret_and_uses_secure_cookies(monkeypatch):
    monkeypatch.delenv("EDMS_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="secret key"):
        load_settings("production")
    monkeypatch.setenv("EDMS_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("EDMS_PKI_PASSPHRASE", "a passphrase of the organisation's own")
    assert load_settings("production").secure_cookies is True


@pytest.mark.req("11.100(c)")
def test_the_part11_certification_letter_reference_is_configured():
    assert "11.100" in load_settings("testing").part11_certification_reference


def test_a_deployment_s_own_configuration_directory_takes_the_place_of_the_shipped_file(monkeypatch, tmp_path):
    (tmp_path / "staging.toml").write_text('environment = "staging"\nidle_minutes = 7\n', "utf-8")
    monkeypatch.setenv("EDMS_CONFIG_DIR", str(tmp_path))
    settings = load_settings("staging")
    assert settings.environment == "staging" and settings.idle_minutes == 7
    assert settings.password.lockout_threshold == 5  # default.toml still comes with edms
    assert load_settings("testing").secret_key == "testing-secret-key-not-for-production"


def test_document_types_come_with_edms_unless_a_deployment_names_its_own_forms(monkeypatch, tmp_path):
    assert (load_settings("testing").forms_dir / "regimes").is_dir()
    monkeypatch.setenv("EDMS_FORMS_DIR", str(tmp_path / "our-forms"))
    assert load_settings("testing").forms_dir == tmp_path / "our-forms"


def test_a_relative_data_directory_is_taken_from_the_directory_edms_is_started_in(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDMS_DATA_DIR", "var")
    monkeypatch.delenv("EDMS_DATABASE_URL", raising=False)
    assert load_settings("testing").data_dir == tmp_path / "var"


def test_an_unknown_role_in_totp_roles_stops_the_services_before_anything_is_opened(monkeypatch, tmp_path):
    from edms.application.services import build_services

    monkeypatch.setenv("EDMS_DATA_DIR", str(tmp_path))
    settings = load_settings("testing", overrides={"totp_roles": ["qa", "nurse"]})
    with pytest.raises(ConfigError, match="totp_roles: unknown role\\(s\\) nurse"):
        build_services(settings)
    assert list(tmp_path.iterdir()) == []
