"""Security basics: CSRF on every form, headers, no stack traces, sign-in rate limit."""
import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.config import ConfigError, load_settings
from tests.conftest import PASSWORD, sign_in


def test_forms_without_a_csrf_token_are_refused(client, people):
    people.make("kenji.sato", "author")
    response = client.post("/login", data={"username": "kenji.sato", "password": PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


@pytest.mark.req("11.30")
def test_security_headers_forbid_inline_scripts_and_framing(client):
    headers = client.get("/login").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.req("11.30")
def test_production_cookies_are_secure_and_https_is_enforced_by_hsts(database_url, tmp_path, monkeypatch):
    from edms.app import create_app

    monkeypatch.setenv("EDMS_SECRET_KEY", "k" * 48)
    monkeypatch.setenv("EDMS_PKI_PASSPHRASE", "p" * 48)
    app = create_app(load_settings("production", overrides={"database_url": database_url, "data_dir": str(tmp_path)}))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = app.test_client().get("/login")
    assert "max-age" in response.headers["Strict-Transport-Security"]
    app.extensions["edms"].engine.dispose()


def test_errors_never_show_a_stack_trace(app, client, people):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    people.make("kenji.sato", "author")
    sign_in(client, "kenji.sato")
    response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in body and "secret internal detail" not in body
    assert "nothing was saved" in body


def test_sign_in_is_rate_limited(database_url, tmp_path):
    from edms.app import create_app

    app = create_app(load_settings("testing", overrides={
        "database_url": database_url, "data_dir": str(tmp_path), "login_rate_limit": "3 per minute"}))
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    codes = [client.post("/login", data={"username": "x.y", "password": "z" * 12}).status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    app.extensions["edms"].engine.dispose()


@pytest.mark.req("11.10(e)")
def test_behind_a_trusted_load_balancer_the_audit_trail_records_the_client_not_the_balancer(database_url, tmp_path):
    from edms.app import create_app

    def failed_api_call_from_behind_a_balancer(trusted_proxies: int) -> str:
        app = create_app(load_settings("testing", overrides={
            "database_url": database_url, "data_dir": str(tmp_path / str(trusted_proxies)),
            "trusted_proxies": trusted_proxies}))
        try:
            client = app.test_client()
            # A forged hop added by the client itself comes first; the balancer appends the address it saw.
            headers = {"Authorization": "Bearer not-a-token", "X-Forwarded-For": "198.51.100.66, 203.0.113.7"}
            assert client.get("/api/v1/me", headers=headers).status_code == 401
            with app.extensions["edms"].sessions() as session:
                return session.scalars(select(AuditEvent).where(AuditEvent.action == "api.auth_failed")
                                       .order_by(AuditEvent.seq.desc())).first().client_addr
        finally:
            app.extensions["edms"].engine.dispose()

    assert failed_api_call_from_behind_a_balancer(0) == "127.0.0.1"  # no proxy trusted: the header is ignored
    assert failed_api_call_from_behind_a_balancer(1) == "203.0.113.7"  # one hop believed, never the forged one


def test_a_trusted_proxy_count_that_is_not_a_small_whole_number_is_refused():
    for bad in (-1, 6, "1", True, 10**30):
        with pytest.raises(ConfigError, match="trusted_proxies"):
            load_settings("testing", overrides={"trusted_proxies": bad})
