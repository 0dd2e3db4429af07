"""Documents in the tests: who writes each type, its realistic content (the values of
tests/support/examples.py, with references filled in), and the API and form plumbing around them."""
from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.documents import models as m
from edms.documents.types import DocumentType, FieldDef
from edms.timeutil import utc_now
from edms.users.models import User, UserRole
from tests.support.examples import TITLES, VALUES
from tests.support.people import PASSWORD

# The zone of every person made by the `people` fixture.
AUTHOR_ZONE = "Asia/Tokyo"

# Who writes each type: the role of the type's first signature step, and a person holding it.
AUTHORS = {
    "author": ("kenji.sato", "Kenji Sato"),
    "qa": ("emi.nakamura", "Emi Nakamura"),
    "physician": ("haruto.ito", "Dr Haruto Ito"),
    "regulatory": ("aiko.mori", "Aiko Mori"),
}

# A small but real PDF: the magic bytes are what the upload check looks at.
PDF_BYTES = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
             b"trailer<</Root 1 0 R>>\n%%EOF\n")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def title_for(doc_type: DocumentType) -> str:
    return TITLES.get(doc_type.key, f"{doc_type.name.en}, lot L2026-0412")


def author_of(doc_type: DocumentType) -> str:
    """The user name of the person who writes this type: the role of its first signature step."""
    return AUTHORS[doc_type.steps[0].roles[0]][0]


def ensure_author(people, doc_type: DocumentType) -> str:
    role = doc_type.steps[0].roles[0]
    username, printed_name = AUTHORS[role]
    with people.sessions() as session:
        exists = session.scalar(select(User.id).where(User.username == username)) is not None
    if not exists:
        people.make(username, role, printed_name=printed_name)
    return username


# A second holder of each role: with the writer above, enough people to sign every step of any shipped type
# without anyone signing two steps (routing never lets a submission in that nobody could complete).
SECOND_SIGNERS = {
    "author": ("yuto.takahashi", "Yuto Takahashi"),
    "qa": ("hiroshi.yamamoto", "Hiroshi Yamamoto"),
    "physician": ("lukas.weber", "Dr Lukas Weber"),
    "regulatory": ("naoko.ito", "Naoko Ito"),
}
SIGNER_ADMIN = ("emi.suzuki", "Emi Suzuki")


def ensure_signers(people, doc_type: DocumentType) -> None:
    """Two people of each role the type's steps ask for, active, identity-checked and trained (for every
    type), recorded by an administrator: what a submission needs to be accepted (edms.workflow.completability)."""
    from edms.db import transaction
    from edms.signatures import gates
    from tests.support.people import train, verify_identity

    with people.sessions() as session:
        admin_id = session.scalar(select(User.id).join(User.role_grants).where(UserRole.role == "admin").limit(1))
    if admin_id is None:
        admin_id = people.make(SIGNER_ADMIN[0], "admin", printed_name=SIGNER_ADMIN[1]).id
    for role in sorted(doc_type.signing_roles):
        for username, printed_name in (AUTHORS[role], SECOND_SIGNERS[role]):
            with people.sessions() as session:
                user_id = session.scalar(select(User.id).where(User.username == username))
            if user_id is None:
                user_id = people.make(username, role, printed_name=printed_name).id
            with transaction(people.sessions) as session:
                admin, person = session.get(User, admin_id), session.get(User, user_id)
                if role not in person.roles:
                    continue  # someone the test made for another purpose
                if not gates.identity_verified(session, person):
                    verify_identity(session, admin, person)
                if gates.current_training(session, person, role, doc_type.key, utc_now().date()) is None:
                    train(session, admin, person, role, document_type=None, known_types=())


def generic_value(field: FieldDef) -> object:
    """A valid value derived from the definition alone, for a field added after VALUES was written."""
    if field.type == "text":
        return field.example or "L2026-0412 (see batch record)"
    if field.type in ("number", "integer"):
        return str(field.minimum if field.minimum is not None else 1)
    return {"textarea": "As recorded in the batch record of lot L2026-0412.", "date": "2026-11-24",
            "datetime": "2026-11-25T21:06:00+09:00", "boolean": False, "document_refs": [],
            "choice": field.choices[0].value if field.choices else None,
            "multichoice": [field.choices[0].value] if field.choices else []}[field.type]


def realistic_values(doc_type: DocumentType, refs: dict[str, list[str]] | None = None) -> dict[str, object]:
    table = VALUES.get(doc_type.key, {})
    values = {field.name: table[field.name] if field.name in table else generic_value(field) for field in doc_type.fields}
    for name, numbers in (refs or {}).items():
        values[name] = list(numbers)
    return values


class Api:
    """The JSON API as one person calls it, with their own bearer token."""

    def __init__(self, client, username: str, password: str = PASSWORD) -> None:
        self.client = client
        response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert response.status_code == 201, response.json
        self.headers = {"Authorization": f"Bearer {response.json['token']}"}

    def get(self, path: str, **kwargs):
        return self.client.get(f"/api/v1{path}", headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.post(f"/api/v1{path}", headers=self.headers, **kwargs)

    def put(self, path: str, **kwargs):
        return self.client.put(f"/api/v1{path}", headers=self.headers, **kwargs)


def create_with_references(app, client, people, type_key: str) -> tuple[Api, dict, dict[str, object]]:
    """A draft of the type by its author, after the documents its required references name (and theirs)."""
    doc_type = app.extensions["edms"].document_types[type_key]
    refs = {}
    for field in doc_type.fields:
        if field.type == "document_refs" and field.required:
            _api, referenced, _values = create_with_references(app, client, people, field.ref_types[0])
            refs[field.name] = [referenced["number"]]
    api = Api(client, ensure_author(people, doc_type))
    ensure_signers(people, doc_type)
    values = realistic_values(doc_type, refs)
    response = api.post("/documents", json={"type": type_key, "title": title_for(doc_type), "values": values})
    assert response.status_code == 201, response.json
    return api, response.json, values


def form_data(doc_type: DocumentType, title: str, values: dict[str, object], csrf: str) -> dict[str, object]:
    """The values as the create page's form sends them (date-times as a datetime-local input gives them)."""
    data: dict[str, object] = {"csrf_token": csrf, "title": title}
    for field in doc_type.fields:
        value = values[field.name]
        if value is None:
            value = ""
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif field.type == "datetime":
            value = _as_datetime_local(value)
        elif field.type == "document_refs":
            value = " ".join(value)
        data[f"field_{field.name}"] = value
    return data


def _as_datetime_local(value: str) -> str:
    """What a datetime-local input in the author's zone sends for this instant; a non-date as it is."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone(ZoneInfo(AUTHOR_ZONE)).strftime("%Y-%m-%dT%H:%M")


def bad_value(field: FieldDef, types: dict[str, DocumentType]) -> object:
    """A value of the right shape that the field must refuse."""
    if field.type == "text":
        return "not a code!" if field.pattern else "x" * (field.max_length + 1)
    if field.type == "textarea":
        return "x" * (field.max_length + 1)
    if field.type == "document_refs":
        # Well-formed, but no such document exists.
        target = types[field.ref_types[0]] if field.ref_types else next(iter(types.values()))
        return [target.format_number(2026, 9999)]
    return {"number": "seventy-two", "integer": "2.5", "date": "20/11/2026", "datetime": "next Tuesday",
            "choice": "not-a-choice", "multichoice": ["not-a-choice"], "boolean": "maybe"}[field.type]


def counts(app) -> dict[str, int]:
    """Rows that an operation may add; compared before and after a refused request."""
    with app.extensions["edms"].sessions() as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table))
            for table in (m.Document, m.DocumentVersion, m.Attachment, m.NumberSequence, AuditEvent)
        }


def stored_files(app) -> list[Path]:
    """Every file in the filesystem blob store."""
    root = app.extensions["edms"].settings.data_dir
    return sorted(path for path in root.rglob("*") if path.is_file() and "blobs" in path.parts)


def newest_event_seq(app) -> int:
    with app.extensions["edms"].sessions() as session:
        return session.scalar(select(func.max(AuditEvent.seq))) or 0


def actions_after(app, seq: int) -> list[str]:
    """The actions of the audit events recorded after event `seq`, in order."""
    with app.extensions["edms"].sessions() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)))


def docx_with(parts: dict[str, bytes], content_types: str) -> bytes:
    """A minimal Office Open XML package with the given parts and [Content_Types].xml."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="{main}"/></Types>'
)
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
