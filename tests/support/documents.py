"""Realistic content for every shipped document type (figures from DOMAIN.md), and the people who write it.

The story: lot L2026-0412 of a tisagenlecleucel-like CAR-T product for patient PT-7Q4X fails its
release viability specification (72.0 % against ≥ 80 %). QC notifies, QA investigates, the treating
physician justifies use and records consent, QA releases, Regulatory Affairs notifies PMDA.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.documents import models as m
from edms.documents.types import DocumentType, FieldDef
from edms.users.models import User
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

TITLES = {
    "oos_notification": "Viability OOS, lot L2026-0412 (PT-7Q4X)",
    "deviation_report": "Deviation: low post-thaw viability, lot L2026-0412",
    "informed_consent": "Consent to receive OOS lot L2026-0412",
    "physician_justification": "Justification for use of OOS lot L2026-0412",
    "qa_release": "Release decision, OOS lot L2026-0412 for PT-7Q4X",
    "regulatory_notification": "PMDA notification: use of OOS lot L2026-0412",
    "ethics_approval": "Ethics committee approval, OOS lot L2026-0412",
    "fda_acknowledgement": "FDA acknowledgement, expanded access IND 031744",
    "letter_of_authorization": "Letter of Authorization for IND 019283",
    "mah_agreement": "Quality agreement covering OOS supply",
    "physician_acceptance": "Physician's confirmation, OOS lot L2026-0412",
    "safety_report": "CRS after infusion of OOS lot L2026-0412",
    "supply_request": "Supply request, OOS lot L2026-0412 for PT-7Q4X",
    "waivable_items_list": "Waivable specification items, tisagenlecleucel",
}

# Every value valid for its field (None: an optional field left empty); document_refs fields are
# filled in with the numbers of documents created first.
VALUES: dict[str, dict[str, object]] = {
    "oos_notification": {
        "product": "tisagenlecleucel (CTL019)",
        "lot": "L2026-0412",
        "patient_ref": "PT-7Q4X",
        "tested_on": "2026-11-20",
        "test": "viability",
        "method": "Flow cytometry, 7-AAD exclusion (SOP QC-112)",
        "specification": "≥ 80 %",
        "result": "72.0",
        "units": "%",
        "safety_test": False,
        "investigation_summary": "Phase I laboratory investigation: no assignable laboratory error; "
                                 "the retest confirmed 72.0 % viability.",
        "risk_assessment": "OOS lots with viability of 61-79 % had outcomes similar to conforming lots "
                           "(Pasquini, Blood Adv 2020). The dose, 3.1 × 10^8 CAR+ viable T cells, is within 0.6-6.0 × 10^8.",
        "recommendation": "Consider administration of this lot with enhanced monitoring for cytokine release syndrome.",
    },
    "deviation_report": {
        "lot": "L2026-0412",
        "description": "Post-thaw viability 72.0 % against the release specification of ≥ 80 %.",
        "detection": "Release testing on 2026-11-20 (flow cytometry, 7-AAD exclusion).",
        "impact": "Lower viable dose; the CAR+ viable T-cell dose remains within 0.6-6.0 × 10^8.",
        "root_cause": "Controlled-rate freezer profile deviated by 4 minutes during the nucleation step.",
        "corrective_actions": "Freezer profile re-qualified; the lot assessed for compassionate use.",
        "preventive_actions": "Alarm on profile deviations above 1 minute; operator retraining.",
        "capa_reference": "CAPA-2026-0031",
    },
    "informed_consent": {
        "patient_ref": "PT-7Q4X",
        "information_given": "The lot did not meet its viability specification (72.0 % against ≥ 80 %); "
                             "the risks and the alternative of re-manufacture (about 48 days) were explained.",
        "questions_answered": "Whether lower viability lowers the chance of response: similar outcomes were reported.",
        "consent": "given",
        "consent_date": "2026-11-24",
        "witness_name": "Yuki Tanaka",
        "witness_role": "Clinical research coordinator",
    },
    "physician_justification": {
        "patient_ref": "PT-7Q4X",
        "diagnosis": "Relapsed/refractory diffuse large B-cell lymphoma after two lines of therapy",
        "no_alternative": "No further approved therapy; not eligible for a clinical trial.",
        "remanufacture_considered": "No apheresis material left; a new lot would take a median of 48 days, "
                                    "which the patient's condition does not allow.",
        "urgency": "urgent",
        "expected_benefit": "Durable remission is possible; outcomes with 61-79 % viability were similar.",
        "assessed_risk": "Cytokine release syndrome and neurotoxicity as for conforming lots; no safety test failed.",
        "decision": "proceed",
    },
    "qa_release": {
        "lot": "L2026-0412",
        "oos_result": "Viability 72 % (specification ≥ 80 %)",
        "release_decision": "release",
        "conditions": "Administration within 90 minutes of thaw; enhanced monitoring for cytokine release syndrome.",
    },
    "regulatory_notification": {
        "authority": "pmda",
        "jurisdiction": "JP",
        "what_notified": "Use of OOS lot L2026-0412 (viability 72 %) for patient PT-7Q4X.",
        "notified_at": "2026-11-25T21:06:00+09:00",
        "reference_number": "PMDA-2026-118",
    },
    "ethics_approval": {
        "committee_name": "Kansai University Hospital Ethics Committee",
        "committee_type": "institutional_ethics_committee",
        "committee_reference": "EC-2026-311",
        "review_type": "full_review",
        "patient_ref": "PT-7Q4X",
        "submitted_at": "2026-11-24T10:30:00+09:00",
        "decision": "approved_with_conditions",
        "decision_date": "2026-11-25",
        "conditions": "Administration only after the QA release decision; serious adverse events reported within 24 hours.",
        "valid_until": "2027-02-28",
    },
    "fda_acknowledgement": {
        "ind_number": "031744",
        "physician_name": "Dr Haruto Ito",
        "submitted_at": "2026-11-24T09:15:00-05:00",
        "fda_received_at": "2026-11-24T09:40:00-05:00",
        "earlier_treatment_allowed": True,
        "earlier_treatment_allowed_at": "2026-11-25T14:00:00-05:00",
        "emergency_telephone_authorization": False,
        "telephone_authorized_at": None,
        "fda_official": None,
        "telephone_details": None,
    },
    "letter_of_authorization": {
        "manufacturer": "Kansai Regenerative Cell Therapies K.K.",
        "application_type": "ind",
        "application_number": "019283",
        "physician_name": "Dr Haruto Ito",
        "product": "tisagenlecleucel (CTL019)",
        "lot": "L2026-0412",
        "patient_ref": "PT-7Q4X",
        "authorized_information": "FDA may refer to the CMC and release testing information in IND 019283 "
                                  "for the expanded access use of lot L2026-0412 by patient PT-7Q4X.",
        "issued_on": "2026-11-23",
    },
    "mah_agreement": {
        "manufacturer": "Kansai Regenerative Cell Therapies K.K., Kobe site",
        "manufacturing_authorisation": "28AZ200311",
        "mah": "Kansai Regenerative Cell Therapies K.K.",
        "agreement_reference": "QAA-2026-004 v3",
        "effective_from": "2026-04-01",
        "covers_oos_supply": True,
        "responsibilities": "The manufacturer investigates and notifies the OOS result; the MAH assesses the risk, "
                            "informs the treating physician and decides on release for the patient.",
    },
    "physician_acceptance": {
        "patient_ref": "PT-7Q4X",
        "lot": "L2026-0412",
        "supplied_at_request_notified": True,
        "physician_name": "Dr Haruto Ito",
        "acceptance": "accepted",
        "received_at": "2026-11-25T18:20:00+09:00",
        "received_as": "signed_in_edms",
    },
    "safety_report": {
        "patient_ref": "PT-7Q4X",
        "lot": "L2026-0412",
        "event_term": "Cytokine release syndrome",
        "onset_date": "2026-11-29",
        "awareness_at": "2026-11-29T08:10:00+09:00",
        "serious": True,
        "seriousness_criteria": ["hospitalisation"],
        "fatal_or_life_threatening": False,
        "expectedness": "expected",
        "causality": "suspected",
        "reporting_category": "fifteen_day",
        "report_to": ["pmda", "manufacturer"],
        "report_type": "initial",
        "submitted_at": "2026-12-05T16:00:00+09:00",
        "authority_reference": "AE-J-2026-00871",
        "narrative": "Grade 2 cytokine release syndrome on day 2 after infusion; tocilizumab given; resolved on day 5.",
    },
    "supply_request": {
        "patient_ref": "PT-7Q4X",
        "product": "tisagenlecleucel (CTL019)",
        "lot": "L2026-0412",
        "treating_site": "Kansai University Hospital, Department of Hematology",
        "reason": "No alternative therapy; re-manufacture would take a median of 48 days.",
        "planned_administration": "2026-11-27",
        "risk_information_received": True,
        "requested_at": "2026-11-25T11:00:00+09:00",
    },
    "waivable_items_list": {
        "product": "tisagenlecleucel (CTL019)",
        "mah": "Kansai Regenerative Cell Therapies K.K.",
        "evaluation_system": "QA evaluates each OOS result against the acceptable ranges below; "
                             "a result outside them is never supplied.",
        "waivable_tests": ["viable_car_t_dose", "viability"],
        "acceptable_ranges": "Viability 61-79 % (release ≥ 80 %): outcomes similar to conforming lots "
                             "(Pasquini, Blood Adv 2020).",
        "never_waived": "Sterility, endotoxin, mycoplasma.",
        "notified_to_authority": True,
        "notified_on": "2026-10-01",
        "notification_reference": "PMDA-W-2026-015",
        "effective_from": "2026-10-15",
    },
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
