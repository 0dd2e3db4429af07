"""create_app(): configuration, extensions, blueprints; nothing else."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from flask_babel import get_locale
from flask_limiter import Limiter
from werkzeug.middleware.proxy_fix import ProxyFix

from edms import __version__
from edms.application.services import build_services
from edms.application.worker import runner, start_thread
from edms.config import Settings, load_settings
from edms.resources import TEMPLATES_DIR
from edms.users.roles import ROLE_LABELS
from edms.web import (
    access_log,
    admin,
    audit_views,
    auth,
    case_views,
    csrf_tokens,
    delegation_views,
    document_views,
    errors,
    guards,
    handover_views,
    inspection_views,
    job_views,
    main,
    notification_views,
    refusals,
    routing_views,
    session_views,
    signature_views,
    site_views,
    task_views,
)
from edms.web.bearer import CookieSessions, pages_only
from edms.web.bounds import IdConverter, refuse_invalid_utf8, refuse_nul_characters
from edms.web.extensions import babel, csrf, limiter, login_manager
from edms.web.i18n import LANGUAGES, install_template_gettext, local_time, select_locale
from edms.web.labels import page_labels
from edms.web.live_sessions import signed_in_reader
from edms.web.runtime import close_db, dispatch_with_reruns, finish
from edms.web.scope import enforce_case_scope
from edms.web.session_user import SessionUser
from edms.web.shell import navigation
from edms.web.template_code import TEMPLATE_CODE
from edms.web.url_rules import SharedBuilderRule


class EdmsFlask(Flask):
    """Flask, asked once per hook or view whether it is a coroutine (Flask asks `inspect` for every hook of
    every request; none of edms's is one), whose URL rules share their builders (edms.web.url_rules) and whose
    templates are compiled once per process (edms.web.template_code)."""

    url_rule_class = SharedBuilderRule
    jinja_options = {"bytecode_cache": TEMPLATE_CODE}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        synced = self.__dict__.setdefault("_edms_synced", {})
        found = synced.get(func)
        if found is None:
            found = synced[func] = super().ensure_sync(func)
        return found


_LIMITER_HEADERS = getattr(Limiter, "_Limiter__inject_headers", None)


def create_app(settings: Settings | None = None, *, check_schema: bool = True) -> Flask:
    settings = settings or load_settings()
    app = EdmsFlask(
        "edms",
        root_path=str(Path(__file__).parent),
        template_folder=str(TEMPLATES_DIR),
        static_folder="static",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="edms_session",
        REMEMBER_COOKIE_DURATION=0,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which idles out on its own
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        BABEL_DEFAULT_LOCALE=settings.default_language,
        JSON_SORT_KEYS=False,
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage,
    )
    app.extensions["edms"] = build_services(settings, check_schema=check_schema)
    if settings.trusted_proxies:
        # Behind a load balancer the peer is the balancer: the client address (audit trail, per-client limits)
        # comes from the hops it adds, and only from as many hops as are configured as trusted.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    if runner(app.extensions["edms"]) == "thread":  # SQLite: jobs run in the server's background thread
        app.extensions["edms_jobs"] = start_thread(app.extensions["edms"])
    app.url_map.converters["int"] = IdConverter  # an id too large for the database is a 404, not an overflow

    _init_extensions(app)
    _register_blueprints(app)
    _register_hooks(app)
    errors.register(app)
    logging.getLogger("edms").setLevel(logging.INFO)
    return app


def _init_extensions(app: Flask) -> None:
    app.session_interface = CookieSessions()  # a bearer request neither reads nor writes the page cookie
    login_manager.init_app(app)
    # Flask-Login's cookie refresh concerns page sessions only (edms.web.bearer).
    remember = login_manager._update_remember_cookie
    app.after_request_funcs[None] = [pages_only(hook) if hook == remember else hook
                                     for hook in app.after_request_funcs[None]]
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.login_message = None

    @login_manager.user_loader
    def load_user(user_id: str):
        # One statement: the user, their roles and the session's record (edms.web.live_sessions).
        reader = signed_in_reader(int(user_id))
        return None if reader is None else SessionUser.of(reader)

    app.before_request(refuse_invalid_utf8)  # before the CSRF check reads the form (edms.web.bounds)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    install_template_gettext(app)
    limiter.init_app(app)
    # No route carries a limiter decorator: edms tests and counts its limits where they apply (sign-in,
    # edms.web.throttle; refused bearer tokens, edms.api.blueprint), so the limiter's per-request check of
    # decorated limits would only cost every request its time.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    # Likewise its after-request hook (the headers and deductions of decorated limits: there are none) and its
    # teardown (which empties that per-request state).
    app.after_request_funcs[None] = [hook for hook in app.after_request_funcs[None]
                                     if getattr(hook, "func", None) is not _LIMITER_HEADERS]
    app.teardown_request_funcs[None].remove(limiter._Limiter__release_context)  # type: ignore[attr-defined]


def _register_blueprints(app: Flask) -> None:
    from edms.api import (  # noqa: F401  (routes register on the blueprint)  # noqa: F401  (routes register on the blueprint)
        audit_routes,
        auth_routes,
        case_routes,
        delegation_routes,
        document_routes,
        handover_routes,
        inspection_routes,
        job_routes,
        notification_routes,
        routing_routes,
        session_routes,
        signature_routes,
        signed_pdf_routes,
        site_routes,
        task_routes,
        users_routes,
    )
    from edms.api.blueprint import bp as api_bp

    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(document_views.bp)
    app.register_blueprint(case_views.bp)
    app.register_blueprint(audit_views.bp)
    app.register_blueprint(signature_views.bp)
    app.register_blueprint(inspection_views.bp)
    app.register_blueprint(task_views.bp)
    app.register_blueprint(delegation_views.bp)
    app.register_blueprint(notification_views.bp)
    app.register_blueprint(handover_views.bp)
    app.register_blueprint(routing_views.bp)
    app.register_blueprint(site_views.bp)
    app.register_blueprint(session_views.bp)
    app.register_blueprint(job_views.bp)
    csrf.exempt(api_bp)  # the API takes bearer tokens, never cookies
    app.register_blueprint(api_bp)


def _register_hooks(app: Flask) -> None:
    # Registered first, so it runs after every other after-request hook: the request's one commit.
    app.after_request(finish)
    app.before_request(guards.assign_request_id)
    app.before_request(refuse_nul_characters)
    app.before_request(pages_only(csrf_tokens.reuse_signed_token))  # signed once per session (edms.web.csrf_tokens)
    # The page session's guards: a bearer request is checked by its token instead (edms.web.bearer).
    app.before_request(pages_only(guards.enforce_idle_timeout))
    app.before_request(pages_only(access_log.end_expired_sessions))
    app.before_request(pages_only(guards.enforce_password_change))
    app.before_request(pages_only(guards.enforce_read_only_roles))
    app.before_request(pages_only(enforce_case_scope))
    app.after_request(refusals.record_refused_access)  # a refused (403) request is audited, then committed
    app.after_request(guards.security_headers)
    app.after_request(access_log.record_inspector_access)
    app.after_request(pages_only(csrf_tokens.remember_signed_token))
    app.teardown_appcontext(close_db)
    dispatch_with_reruns(app)  # a GET whose one transaction could not take SQLite's write lock runs again
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.globals["navigation"] = navigation  # base.html's, kept per role set and language

    @app.context_processor
    def template_globals():
        return {"app_version": __version__, "languages": LANGUAGES, "role_labels": ROLE_LABELS,
                "request_id": g.get("request_id"), "endpoint": request.endpoint,
                "get_locale": get_locale, "labels": page_labels()}
