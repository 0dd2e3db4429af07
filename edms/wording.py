"""Words for people outside a request: the same Japanese catalogue the pages use, read without Flask.

Notifications, e-mails and renditions are written for one reader whose language is known (a person's
setting, a package's language), not for the request at hand; they translate here. The English msgid is
the English text, so English needs no catalogue.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

from edms.definitions import LocalizedText

LANGUAGES = ("en", "ja")
_CATALOGUES = Path(__file__).resolve().parent / "translations"


@cache
def _catalogue(language: str) -> NullTranslations:
    if language == "en" or language not in LANGUAGES:
        return NullTranslations()
    return Translations.load(str(_CATALOGUES), [language], domain="messages")


def translate(message: str, language: str, **params: object) -> str:
    """`message` (an English msgid marked with N_) in `language`, its %(name)s placeholders filled;
    a parameter that carries its own translations is shown in that language too."""
    text = _catalogue(language).gettext(message)
    if not params:
        return text
    return text % {name: value.text(language) if isinstance(value, LocalizedText) else value
                   for name, value in params.items()}


def both(message: str, **params: object) -> LocalizedText:
    """The message in English and in Japanese, for a text stored or sent before its reader is known."""
    return LocalizedText(en=translate(message, "en", **params), ja=translate(message, "ja", **params))
