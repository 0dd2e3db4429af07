"""The page shell's navigation, rendered once per (role set, language, URL root) and kept for the process.

What `base.html`'s navigation prints depends only on the reader's roles, the page's language and where the
application is mounted; the reader's name, the CSRF tokens and the flash messages, which depend on the
request, stay in `base.html` and are rendered per request. A role granted or withdrawn is another role set,
so another navigation: a kept one is never stale.
"""
from __future__ import annotations

import threading

from flask import current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

EXTENSION = "edms_navigation"
TEMPLATE = "_navigation.html"


class Navigations:
    """The rendered navigations by key; role sets and languages are few, so it stays small."""

    def __init__(self) -> None:
        self.enabled = True
        self._kept: dict[tuple[object, ...], Markup] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> Markup | None:
        return self._kept.get(key)

    def put(self, key: tuple[object, ...], navigation: Markup) -> None:
        with self._lock:
            self._kept[key] = navigation

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)


def navigations() -> Navigations:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions.setdefault(EXTENSION, Navigations())
    return found


def navigation() -> Markup:
    """The navigation for this request's reader (nothing for a visitor not signed in)."""
    if not current_user.is_authenticated:
        return Markup("")
    kept = navigations()
    key = (tuple(sorted(current_user.roles)), str(get_locale() or ""), request.script_root)
    found = kept.get(key) if kept.enabled else None
    if found is None:
        found = Markup(render_template(TEMPLATE))
        if kept.enabled:
            kept.put(key, found)
    return found
