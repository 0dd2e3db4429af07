"""Configuration: files plus EDMS_* overrides; production refuses unsafe settings."""
import pytest

from edms.config import ConfigError, load_settings, refuse_public_secrets


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
    # Staging is not development: it has secrets of its own.
    (tmp_path / "staging.toml").write_text('environment = "staging"\nidle_minutes = 7\n'
                                           f'secret_key = "{"x" * 48}"\npki_passphrase = "our own passphrase"\n', "utf-8")
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


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("EDMS_IDLE_MINUTES", "0.1", "EDMS_IDLE_MINUTES='0.1': expected a whole number"),
    ("EDMS_IDLE_MINUTES", "abc", "EDMS_IDLE_MINUTES='abc': expected a whole number"),
    ("EDMS_IDLE_MINUTES", "0", r"idle_minutes \(EDMS_IDLE_MINUTES\) must be a number from 1 up"),
    ("EDMS_API_TOKEN_MINUTES", "-5", r"api_token_minutes \(EDMS_API_TOKEN_MINUTES\) must be a number from 1 up"),
    ("EDMS_SECURE_COOKIES", "maybe", "EDMS_SECURE_COOKIES='maybe': expected one of"),
    ("EDMS_PASSWORD_MIN_LENGTH", "twelve", "EDMS_PASSWORD_MIN_LENGTH='twelve': expected a whole number"),
    ("EDMS_SMTP_TIMEOUT_SECONDS", "soon", "EDMS_SMTP_TIMEOUT_SECONDS='soon': expected a number"),
])
def test_a_bad_environment_value_is_a_configuration_error_naming_the_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings("testing")


def test_a_configuration_file_that_is_not_toml_is_a_configuration_error_naming_the_file(monkeypatch, tmp_path):
    (tmp_path / "default.toml").write_text("idle_minutes = = 15\n", "utf-8")
    monkeypatch.setenv("EDMS_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="default.toml"):
        load_settings("development")


@pytest.mark.parametrize("command", ["init", "serve"])
def test_the_console_reports_a_bad_configuration_value_in_one_line_without_a_traceback(tmp_path, command):
    import os
    import subprocess
    import sys

    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATA_DIR": str(tmp_path), "EDMS_IDLE_MINUTES": "0.1"}
    done = subprocess.run([sys.executable, "-m", "edms.cli", command], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ["Error: EDMS_IDLE_MINUTES='0.1': expected a whole number"]
    assert not (tmp_path / "edms.sqlite3").exists()


@pytest.mark.req("11.30")
@pytest.mark.parametrize("environment", ["staging", "qualification"])
def test_any_environment_but_development_and_testing_refuses_the_shipped_secrets(monkeypatch, tmp_path, environment):
    (tmp_path / f"{environment}.toml").write_text(f'environment = "{environment}"\n', "utf-8")
    monkeypatch.setenv("EDMS_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("EDMS_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="secret key shipped with edms"):
        load_settings(environment)
    monkeypatch.setenv("EDMS_SECRET_KEY", "x" * 48)
    monkeypatch.delenv("EDMS_PKI_PASSPHRASE", raising=False)
    with pytest.raises(ConfigError, match="PKI passphrase shipped with edms"):
        load_settings(environment)


@pytest.mark.req("11.30")
@pytest.mark.parametrize("environment", ["development", "testing"])
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "edms.example.org"])
def test_the_shipped_secrets_are_refused_when_the_server_listens_beyond_the_loopback_interface(environment, host):
    settings = load_settings(environment)
    with pytest.raises(ConfigError, match=f"while listening on {host}"):
        refuse_public_secrets(settings, host=host)
    for loopback in ("127.0.0.1", "::1", "localhost"):
        refuse_public_secrets(settings, host=loopback)


def test_edms_serve_on_every_interface_with_the_shipped_secret_stops_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "EDMS_ENV": "development", "EDMS_DATA_DIR": str(tmp_path)}
    env.pop("EDMS_SECRET_KEY", None)
    done = subprocess.run([sys.executable, "-m", "edms.cli", "serve", "--host", "0.0.0.0", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "Error: refusing to start while listening on 0.0.0.0 (not the loopback interface) with the secret key "
        "shipped with edms: set EDMS_SECRET_KEY"]
