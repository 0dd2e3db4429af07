"""Language choice (English, Japanese), translated service errors and time-zone display."""
from __future__ import annotations

from datetime import datetime

from flask import g, request, session
from flask_babel import get_locale, gettext
from flask_login import current_user

from edms.definitions import LocalizedText
from edms.documents.types import FieldError
from edms.errors import UserError
from edms.timeutil import format_in_zone

LANGUAGES = {"en": "English", "ja": "日本語"}


def select_locale() -> str:
    """A signed-in person reads their own language setting (it lasts across sign-ins); before sign-in, the
    language picked on the page, else the browser's."""
    if current_user and current_user.is_authenticated and current_user.user.language in LANGUAGES:
        return current_user.user.language
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
