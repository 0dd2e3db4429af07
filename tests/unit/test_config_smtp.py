"""The [smtp] settings: e-mail is off until a relay host is given; EDMS_SMTP_* variables override the files."""
import pytest

from edms.config import ConfigError, load_settings


def test_without_a_host_e_mail_is_not_configured(monkeypatch):
    monkeypatch.delenv("EDMS_SMTP_HOST", raising=False)
    smtp = load_settings("testing").smtp
    assert smtp.host == "" and not smtp.configured
    assert (smtp.port, smtp.security) == (587, "starttls")


def test_environment_variables_configure_the_relay(monkeypatch):
    monkeypatch.setenv("EDMS_SMTP_HOST", "smtp.kansai-rct.example")
    monkeypatch.setenv("EDMS_SMTP_PORT", "465")
    monkeypatch.setenv("EDMS_SMTP_SECURITY", "ssl")
    monkeypatch.setenv("EDMS_SMTP_USERNAME", "edms-relay")
    monkeypatch.setenv("EDMS_SMTP_PASSWORD", "Relay-Secret-2026")
    monkeypatch.setenv("EDMS_SMTP_SENDER", "edms@kansai-rct.example")
    smtp = load_settings("testing").smtp
    assert smtp.configured
    assert (smtp.host, smtp.port, smtp.security, smtp.username, smtp.sender) == (
        "smtp.kansai-rct.example", 465, "ssl", "edms-relay", "edms@kansai-rct.example")


def test_a_relay_password_is_never_sent_in_clear(monkeypatch):
    monkeypatch.setenv("EDMS_SMTP_HOST", "smtp.kansai-rct.example")
    monkeypatch.setenv("EDMS_SMTP_SECURITY", "none")
    monkeypatch.setenv("EDMS_SMTP_USERNAME", "edms-relay")
    with pytest.raises(ConfigError, match="in clear"):
        load_settings("testing")


def test_unknown_security_modes_and_keys_are_refused():
    with pytest.raises(ConfigError, match="smtp.security must be one of starttls, ssl, none"):
        load_settings("testing", overrides={"smtp_overrides": {"security": "tls"}})
    with pytest.raises(ConfigError, match=r"unknown configuration key\(s\) in \[smtp\]: hostname"):
        load_settings("testing", overrides={"smtp_overrides": {"hostname": "smtp.kansai-rct.example"}})
