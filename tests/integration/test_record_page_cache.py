"""A document's page keeps the parts that depend only on the record's stored state (edms.web.record_cache), and
is never stale: after any change, made through edms or behind its back, the page served with the kept parts
warm is exactly the page rendered from nothing kept (issue #15, "reads": no per-request work that does not
depend on the request; 21 CFR 11.10(a), 11.70: a tampered signature shows INVALID as soon as it is tampered).

Each case reads the page (keeping its parts and the whole page), makes ONE change, reads it again with what
is kept, then empties both caches and reads it once more: the two must be identical (CSRF tokens aside) and,
where the change shows on the page, differ from the first reading.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from edms.db import transaction
from edms.documents import models as dm
from edms.documents import operations as documents
from edms.signatures import operations as signing
from edms.signatures.ceremony import Credentials, SigningEnvironment
from edms.timeutil import utc_now
from edms.users.models import User, UserRole
from edms.web.record_cache import EXTENSION, PAGES
from edms.web.shell import EXTENSION as NAVIGATION
from tests.conftest import sign_in
from tests.integration.test_signatures_verification import attacker
from tests.integration.test_verdict_parity import (
    find_target,
    flip_cms_bit,
    revoke_before_timestamp,
)
from tests.support.page_changes import Change, user_column
from tests.support.people import PASSWORD, acting

QA_USER, ADMIN_USER = "emi.nakamura", "takeshi.ogawa"  # of the signed case (tests/support/signed_case.py)
AUTHOR, REVIEWER = "kenji.sato", "emi.nakamura"  # the first two steps: prepared by QC, reviewed by QA


def _user(session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def _on_document(app, document_id: int, action: Callable) -> None:
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        action(services, session, session.get(dm.Document, document_id))


def revise(app, document_id: int) -> None:
    def act(services, session, document):
        author = _user(session, AUTHOR)
        documents.revise(session, acting(author), author, services.document_types[document.type_key], document,
                         "Viability data of comparable lots added.")
    _on_document(app, document_id, act)


def revise_and_submit(app, document_id: int) -> None:
    revise(app, document_id)

    def act(services, session, document):
        author = _user(session, AUTHOR)
        documents.submit(session, acting(author), author, document)
    _on_document(app, document_id, act)


def _ceremony(app, document_id: int, username: str, refuse: bool) -> None:
    def act(services, session, document):
        signer = _user(session, username)
        env = SigningEnvironment.from_settings(services.settings, blobs=services.blobs)
        doc_type = services.document_types[document.type_key]
        credentials = Credentials(password=PASSWORD, username=signer.username)
        if refuse:
            signing.reject(session, acting(signer), env, doc_type, signer, document, document.latest, credentials,
                           reason="The viability data is not cited.")
        else:
            signing.sign(session, acting(signer), env, doc_type, signer, document, document.latest, credentials)
    _on_document(app, document_id, act)


def signed_by_author(app, document_id: int) -> None:
    revise_and_submit(app, document_id)
    _ceremony(app, document_id, AUTHOR, refuse=False)


def withdraw(app, document_id: int) -> None:
    def act(services, session, document):
        author = _user(session, AUTHOR)
        documents.withdraw(session, acting(author), author, document, "Raised in error: wrong lot.")
    _on_document(app, document_id, act)


def _tampered(tamper: Callable) -> Callable:
    def change(app, document_id: int) -> None:
        services = app.extensions["edms"]
        tamper(services.settings, find_target(services, document_id))
    return change


def change_content_behind_edms(app, document_id: int) -> None:
    """The latest version's stored content changed by the database owner: every signature of it fails."""
    settings = app.extensions["edms"].settings
    with attacker(settings, "document_versions") as connection:
        version_id, content = connection.execute(
            select(dm.DocumentVersion.id, dm.DocumentVersion.content).where(dm.DocumentVersion.document_id == document_id)
            .order_by(dm.DocumentVersion.version.desc())).first()
        connection.execute(update(dm.DocumentVersion).where(dm.DocumentVersion.id == version_id)
                           .values(content=content.replace("PT-7Q4X", "PT-7Q4Y")))


def reader_granted(role: str) -> Callable:
    def change(app, document_id: int) -> None:
        with transaction(app.extensions["edms"].sessions) as session:
            session.add(UserRole(user_id=_user(session, QA_USER).id, role=role, granted_at=utc_now()))
    return change


def attached(app, document_id: int) -> None:
    """A file attached to the owner's new draft (the page shows the draft's attachments)."""
    def act(services, session, document):
        author = _user(session, AUTHOR)
        documents.add_attachment(session, acting(author), author, document, services.blobs,
                                 filename="viability-comparables.csv", data=b"lot,viability\nL2026-0398,74.5\n")
    _on_document(app, document_id, act)


def owner_renamed(app, document_id: int) -> None:
    with app.extensions["edms"].engine.begin() as connection:
        connection.execute(update(User).where(User.username == AUTHOR).values(printed_name="Kenji Sato-Ishikawa"))


CHANGES = [
    Change("a new version", revise),
    Change("a new signature", lambda app, d: _ceremony(app, d, AUTHOR, refuse=False), prepare=revise_and_submit),
    Change("a refusal to sign", lambda app, d: _ceremony(app, d, REVIEWER, refuse=True), prepare=signed_by_author),
    Change("a withdrawal", withdraw),
    Change("a CMS bit flipped behind edms's back", _tampered(flip_cms_bit)),
    Change("the content changed behind edms's back", change_content_behind_edms),
    Change("the signer's certificate revoked before the time-stamp", _tampered(revoke_before_timestamp)),
    Change("the owner's printed name", owner_renamed),
    Change("the reader's language", user_column(QA_USER, language="ja")),
    Change("the reader's time zone", user_column(QA_USER, timezone="America/New_York")),
    Change("the reader's printed name", user_column(QA_USER, printed_name="Emi Nakamura-Mori")),
    Change("the reader's roles", reader_granted("admin")),
    Change("an attachment on the new draft", attached, prepare=revise),
]


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1-", response.get_data(as_text=True))


def _fresh(app, client, url: str) -> str:
    """The page rendered with nothing kept (neither parts, whole pages nor the shell's navigation): the
    reference."""
    app.extensions[EXTENSION].clear()
    for kept in (PAGES, NAVIGATION):
        if kept in app.extensions:
            app.extensions[kept].clear()
    return _page(client, url)


@pytest.mark.req("11.70")
@pytest.mark.parametrize("change", CHANGES, ids=[change.name for change in CHANGES])
def test_after_any_change_the_page_with_kept_parts_is_the_page_rendered_afresh(app, signed_case, change):
    document_id = signed_case.documents[0]
    if change.prepare is not None:
        change.prepare(app, document_id)
    client = app.test_client()
    assert sign_in(client, QA_USER).status_code == 302
    urls = [f"/documents/{document_id}", f"/documents/{document_id}/versions/1"]
    before = {url: _page(client, url) for url in urls}
    assert {url: _page(client, url) for url in urls} == before  # served from the kept parts
    assert all(before[url] == _fresh(app, client, url) for url in urls)

    change.apply(app, document_id)
    for url in urls:
        _fresh(app, client, url)  # the parts of the new state kept ...
        kept = _page(client, url)  # ... and served
        assert kept == _fresh(app, client, url)
    latest = _page(client, urls[0])
    assert latest != before[urls[0]]


def test_a_tampered_signature_reads_invalid_on_the_next_request_after_its_page_was_kept(app, signed_case):
    document_id = signed_case.documents[0]
    client = app.test_client()
    assert sign_in(client, QA_USER).status_code == 302
    url = f"/documents/{document_id}"
    assert "INVALID" not in _page(client, url)
    cache = app.extensions[EXTENSION]
    kept = len(cache)
    assert kept == 1 and _page(client, url) and len(cache) == kept  # the second read used the kept parts

    flip_cms_bit(app.extensions["edms"].settings, find_target(app.extensions["edms"], document_id))
    tampered = _page(client, url)  # nothing emptied the cache: the state read names other parts
    assert "INVALID" in tampered and len(cache) == kept + 1
    assert tampered == _fresh(app, client, url)


def test_readers_with_other_roles_zones_or_languages_never_share_kept_parts(app, signed_case):
    document_id = signed_case.documents[0]
    url = f"/documents/{document_id}"
    qa, admin = app.test_client(), app.test_client()
    assert sign_in(qa, QA_USER).status_code == 302 and sign_in(admin, ADMIN_USER).status_code == 302
    qa_page, admin_page = _page(qa, url), _page(admin, url)
    assert 'id="transfer-ownership"' in admin_page and 'id="transfer-ownership"' not in qa_page
    assert len(app.extensions[EXTENSION]) == 2
    assert _page(qa, url) == qa_page == _fresh(app, qa, url)
    assert _page(admin, url) == admin_page == _fresh(app, admin, url)


def test_an_owners_editable_draft_is_rendered_per_request_and_never_kept(app, signed_case):
    document_id = signed_case.documents[0]
    revise(app, document_id)
    client = app.test_client()
    assert sign_in(client, AUTHOR).status_code == 302
    page = _page(client, f"/documents/{document_id}")
    assert 'id="upload-form"' in page and 'id="submit-document"' in page
    assert len(app.extensions[EXTENSION]) == 0


def test_a_whole_page_is_kept_per_reader_and_served_again_with_the_requests_own_csrf_token(app, signed_case):
    document_id = signed_case.documents[0]
    url = f"/documents/{document_id}"
    first, second = app.test_client(), app.test_client()
    assert sign_in(first, QA_USER).status_code == 302 and sign_in(second, QA_USER).status_code == 302
    page = first.get(url).get_data(as_text=True)
    pages = app.extensions[PAGES]
    assert len(pages) == 1
    again = second.get(url).get_data(as_text=True)  # another session of the same reader: the kept page
    assert len(pages) == 1
    tokens = {re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', text)[0] for text in (page, again)}
    assert len(tokens) == 2  # each session's own token, in every form of the page
    for client, text in ((first, page), (second, again)):
        token = re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', text)
        assert len(set(token)) == 1 and len(token) >= 3
        assert client.post("/language", data={"csrf_token": token[0], "language": "en"}).status_code == 302
    assert _page(first, url) == _fresh(app, first, url)


def test_other_readers_of_the_same_roles_get_their_own_page(app, signed_case):
    """The shell names its reader: two people never share a kept page, whatever they share otherwise."""
    document_id = signed_case.documents[0]
    url = f"/documents/{document_id}"
    qa, author = app.test_client(), app.test_client()
    assert sign_in(qa, QA_USER).status_code == 302 and sign_in(author, AUTHOR).status_code == 302
    qa_page, author_page = _page(qa, url), _page(author, url)
    who = re.compile(r'<span class="who">([^<]*)</span>')
    assert who.findall(qa_page) == ["Emi Nakamura (emi.nakamura)"]
    assert who.findall(author_page) == ["Kenji Sato (kenji.sato)"]
    assert len(app.extensions[PAGES]) == 2
    assert _page(author, url) == author_page == _fresh(app, author, url)


def test_a_request_with_flash_messages_and_a_version_in_review_are_rendered_afresh(app, signed_case):
    document_id = signed_case.documents[0]
    client = app.test_client()
    assert sign_in(client, QA_USER).status_code == 302
    url = f"/documents/{document_id}"
    _page(client, url)
    pages = app.extensions[PAGES]
    assert len(pages) == 1
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Saved.")]
    assert "Saved." in client.get(url).get_data(as_text=True)  # shown once, rendered, not kept
    assert "Saved." not in _page(client, url) and len(pages) == 1

    revise_and_submit(app, document_id)  # the new version is in review: whether the reader may sign is decided now
    pages.clear()
    _page(client, url)
    assert len(pages) == 0 and len(app.extensions[EXTENSION]) >= 1


def test_the_shells_navigation_is_kept_per_role_set_and_language_and_is_the_one_rendered_afresh(app, signed_case):
    document_id = signed_case.documents[0]
    qa, admin = app.test_client(), app.test_client()
    assert sign_in(qa, QA_USER).status_code == 302 and sign_in(admin, ADMIN_USER).status_code == 302
    nav = re.compile(r"<nav .*?</nav>", re.S)
    pages = {(name, url): _page(client, url) for name, client in (("qa", qa), ("admin", admin))
             for url in ("/", f"/documents/{document_id}", "/documents/")}
    assert len(app.extensions[NAVIGATION]) == 2  # one per role set (both read English)
    assert 'id="nav-sessions"' in nav.search(pages[("admin", "/")]).group(0)
    assert 'id="nav-sessions"' not in nav.search(pages[("qa", "/")]).group(0)
    for (name, url), page in pages.items():
        client = qa if name == "qa" else admin
        assert page == _fresh(app, client, url)
    user_column(QA_USER, language="ja")(app, document_id)
    japanese = _page(qa, "/")
    assert nav.search(japanese).group(0) != nav.search(pages[("qa", "/")]).group(0)
    assert japanese == _fresh(app, qa, "/")
