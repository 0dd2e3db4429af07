"""Parts of a page rendered once per exact state of what they show, kept in the process.

A record's page prints mostly what depends on the record's stored rows alone (edms.signatures.record_state):
its facts, content, signatures with their verdicts, history. Those parts are rendered from one template
(`documents/_record.html`, one `{% set %}` block per part) and kept under a key made of everything they depend
on: the rows' digest, what verification trusts (anchors, revocation records), the language, the zones the page
shows times in, whether the reader administers, the version shown and the application's URL root. The key is
read from the database on every request, so a change made by another thread, process or node, or behind
edms's back, is a different key and a fresh rendering: a kept part is never stale. What depends on the
request (the navigation with the reader's name, CSRF tokens, flash messages, whether the reader may sign now,
a blocked step) is rendered per request around the parts.

A part is kept only if the state read again after rendering it is the one read before (on PostgreSQL a read
sees each statement's newest commit), and the session's objects are expired before the rendering, so it is
made from rows no older than the first read.

A whole page whose every input is in its key (the parts' key plus the reader: id, names, roles, and what the
view decided for them) is kept too (`kept_page`), as its HTML cut at the request's CSRF token: a later request
with the same key gets the same text with its own token put back in those places, which is what rendering
it again would print. A request with flash messages to show renders afresh.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from flask import current_app, g, request, session
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from edms.web.runtime import db

CAPACITY = 512  # parts sets kept per process (LRU): a page's parts are a few tens of kB, so at most ~20 MB
EXTENSION = "edms_record_cache"
PAGES = "edms_page_cache"  # whole pages (per reader): ~10 kB each, so at most ~5 MB
V = TypeVar("V")


class PartsCache(Generic[V]):
    """A bounded, thread-safe LRU of rendered parts (or pages) by key."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.enabled = True
        self._parts: OrderedDict[bytes, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> V | None:
        with self._lock:
            found = self._parts.get(key)
            if found is not None:
                self._parts.move_to_end(key)
            return found

    def put(self, key: bytes, parts: V) -> None:
        with self._lock:
            self._parts[key] = parts
            self._parts.move_to_end(key)
            while len(self._parts) > self.capacity:
                self._parts.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._parts.clear()

    def __len__(self) -> int:
        return len(self._parts)


def parts_cache() -> PartsCache[dict[str, Markup]]:
    """The application's cache (one per app, so two apps in one process never share parts)."""
    return _cache(EXTENSION)


def page_cache() -> PartsCache[tuple[str, ...]]:
    """The application's whole pages, each as its text between the places of the CSRF token."""
    return _cache(PAGES)


def _cache(name: str) -> PartsCache:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get(name)
    if found is None:
        found = app.extensions.setdefault(name, PartsCache())
    return found


def cache_key(*parts: object) -> bytes:
    """The key of a set of parts: every input given, in order, plus the URL root the links are made for."""
    digest = hashlib.sha256()
    for part in (*parts, request.script_root, g.get("record_zone")):
        digest.update(part if isinstance(part, bytes) else repr(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.digest()


def render_parts(template_name: str, names: tuple[str, ...], context: Mapping[str, object]) -> dict[str, Markup]:
    """Render the `{% set %}` blocks `names` of one template with the request's template context (its context
    processors, as `render_template` gives them) and `context`."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    variables = dict(context)
    app.update_template_context(variables)
    module = app.jinja_env.get_template(template_name).make_module(variables)
    return {name: Markup(getattr(module, name)) for name in names}


def kept_parts(key: bytes, *, stamp: Callable[[], bytes | None], stamped: bytes, keep: bool,
               render: Callable[[], dict[str, Markup]]) -> dict[str, Markup]:
    """The parts kept under `key`, else rendered by `render` and kept when `keep` and the state `stamp()` reads
    after rendering is still `stamped`."""
    cache = parts_cache()
    if keep and cache.enabled:
        found = cache.get(key)
        if found is not None:
            return found
    db().expire_all()  # render from rows read now, not from objects loaded before the stamp was read
    parts = render()
    if keep and cache.enabled and stamp() == stamped:
        cache.put(key, parts)
    return parts


def kept_page(key: bytes, *, stamp: Callable[[], bytes | None], stamped: bytes, keep: bool,
              render: Callable[[], str]) -> str:
    """The page kept under `key` with this request's CSRF token, else `render()`, kept when `keep` and the
    state `stamp()` reads after rendering is still `stamped` (its parts may have been rendered from rows read
    again). `key` must hold every input of the page but the token; a request with flash messages waiting
    always renders."""
    cache = page_cache()
    keep = keep and cache.enabled and "_flashes" not in session
    token = generate_csrf()  # what rendering does first (the view's form): the same token, the same session
    if keep:
        found = cache.get(key)
        if found is not None:
            return token.join(found)
    page = render()
    # Cut only where the token is an attribute's value (the forms): the same text elsewhere (someone's record
    # quoting it; quotes in content are escaped) would be printed as it is, so such a page is not kept.
    if keep and token and page.count(token) == page.count(f'value="{token}"') and stamp() == stamped:
        cache.put(key, tuple(page.split(token)))
    return page
