"""The labels a page shows for internal keys (edms.inspection.labels), in the page's language, and the
case a person names by its reference."""
from __future__ import annotations

from flask_babel import get_locale

from edms.cases.references import find_case_id
from edms.inspection.labels import Labels
from edms.web.runtime import db, services


def page_labels(names: dict[tuple[str, str], str] | None = None) -> Labels:
    built = services()
    return Labels(str(get_locale() or "en"), built.document_types, built.regimes, names or {})


def case_id_named(text: str) -> int | None:
    """The case a person typed: its reference (CASE-2026-0001) or its number."""
    return find_case_id(db(), text)
