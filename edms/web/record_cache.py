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
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping

from flask import current_app, g, request
from markupsafe import Markup

from edms.web.runtime import db

CAPACITY = 512  # parts sets kept per process (LRU): a page's parts are a few tens of kB, so at most ~20 MB
EXTENSION = "edms_record_cache"


class PartsCache:
    """A bounded, thread-safe LRU of rendered parts by key."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.enabled = True
        self._parts: OrderedDict[bytes, dict[str, Markup]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> dict[str, Markup] | None:
        with self._lock:
            found = self._parts.get(key)
            if found is not None:
                self._parts.move_to_end(key)
            return found

    def put(self, key: bytes, parts: dict[str, Markup]) -> None:
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


def parts_cache() -> PartsCache:
    """The application's cache (one per app, so two apps in one process never share parts)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions.setdefault(EXTENSION, PartsCache())
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
