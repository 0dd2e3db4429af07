"""A kept page is cut only at the request's CSRF token in its forms (edms.web.record_cache.kept_page): a page
that prints the same text anywhere else (a record quoting it) is rendered per request and never kept, so no
reader ever sees another request's token where the record's own text was."""
from __future__ import annotations

from flask_wtf.csrf import generate_csrf

from edms.web.record_cache import PAGES, kept_page


def _served(app, body, key: bytes = b"key") -> str:
    with app.test_request_context("/documents/1"):
        return kept_page(key, stamp=lambda: b"state", stamped=b"state", keep=True,
                         render=lambda: body(generate_csrf()))


def test_a_page_whose_token_appears_only_in_its_forms_is_kept_and_served_with_each_requests_token(app):
    first = _served(app, lambda token: f'<form><input name="csrf_token" value="{token}"></form>')
    assert len(app.extensions[PAGES]) == 1
    second = _served(app, lambda token: "never rendered: the kept page is served")
    assert second.startswith('<form><input name="csrf_token" value="') and second != first  # another request's token


def test_a_page_that_prints_the_token_outside_a_form_is_not_kept(app):
    page = _served(app, lambda token: f'<input value="{token}"><td>{token}</td>', key=b"quoting")
    assert PAGES not in app.extensions or app.extensions[PAGES].get(b"quoting") is None
    assert page.count("<td>") == 1
