"""Language choice (English, Japanese), translated service errors and time-zone display."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, request, session
from flask_babel import get_locale, get_translations, gettext
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

from edms.definitions import LocalizedText
from edms.documents.types import FieldError
from edms.errors import UserError
from edms.timeutil import format_in_zone

LANGUAGES = {"en": "English", "ja": "日本語"}


def select_locale() -> str:
    """A signed-in person reads their own language setting (it lasts across sign-ins); before sign-in, the
    language picked on the page, else the browser's."""
    if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
        return current_user.language
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def translate_error(error: UserError | FieldError) -> str:
    """The error in the page's language; a parameter that carries its own translations (a sentence from a
    regime definition) is shown in that language too."""
    message = gettext(error.message)
    if not error.params:
        return message
    language = str(get_locale() or "en")
    return message % {name: value.text(language) if isinstance(value, LocalizedText) else value
                      for name, value in error.params.items()}


def local_time(value: datetime | None, zone: str | None = None) -> str:
    """A stored UTC time, always with the zone's name and offset: in `zone` when given; on the page of a case
    or of one of its records in the zone of the case's site (edms.web.scope), the viewer's own beside it when
    it differs; elsewhere in the viewer's zone."""
    viewer = current_user.timezone if current_user and current_user.is_authenticated else "UTC"
    if zone is not None:
        return format_in_zone(value, zone)
    site = g.get("record_zone")
    if value is None or not site or site == viewer:
        return format_in_zone(value, site or viewer)
    return gettext("%(time)s (your time: %(local)s)", time=format_in_zone(value, site), local=format_in_zone(value, viewer))


TRANSLATIONS = "_edms_translations"  # a template's variable: the request's translations, resolved per render


def install_template_gettext(app) -> None:
    """Templates translate through the translations resolved once per render (a context processor) instead of
    resolving the request's locale and domain again for each of a page's many strings; the same catalogue
    and the same locale as flask-babel's own callables (they stay the fallback where a template has no
    context, e.g. a macro imported without it)."""

    @app.context_processor
    def _translations() -> dict[str, Any]:
        return {TRANSLATIONS: get_translations()}

    def _of(context: Any):
        translations = context.get(TRANSLATIONS)
        return translations if translations is not None else get_translations()

    @pass_context
    def _gettext(context: Any, string: str) -> str:
        return _of(context).ugettext(string)

    @pass_context
    def _template_gettext(context: Any, string: str, **variables: Any) -> str:
        """`_()` and `gettext()` in a template: what jinja2's newstyle gettext does (autoescape, and always a
        format string), without its two indirections through the context per string."""
        translated = _of(context).ugettext(string)
        if context.eval_ctx.autoescape:
            translated = Markup(translated)
        return translated % variables

    @pass_context
    def _ngettext(context: Any, singular: str, plural: str, number: int) -> str:
        return _of(context).ungettext(singular, plural, number)

    @pass_context
    def _pgettext(context: Any, message_context: str, string: str) -> str:
        return _of(context).upgettext(message_context, string)

    @pass_context
    def _npgettext(context: Any, message_context: str, singular: str, plural: str, number: int) -> str:
        return _of(context).unpgettext(message_context, singular, plural, number)

    app.jinja_env.install_gettext_callables(gettext=_gettext, ngettext=_ngettext, newstyle=True,
                                            pgettext=_pgettext, npgettext=_npgettext)
    app.jinja_env.globals.update({"_": _template_gettext, "gettext": _template_gettext})
