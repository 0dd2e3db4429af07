"""Controlled document types as data: one TOML file per type in `forms/`, validated strictly at start-up.

Adding a document type means adding a file; code never special-cases a type by name. Every problem in a
definition is reported with the file and the field path so that the person editing it can fix it.

- `model`: fields, choices, signature steps and the controlled lists they choose from;
- `values`: cleaning entered values field by field, and their canonical stored form;
- `document_type`: a loaded type, its record numbers and the validation of a whole record;
- `loading`: reading and checking the definition files.
"""
from edms.definitions import LocalizedText
from edms.documents.types.document_type import DocumentType
from edms.documents.types.loading import DefinitionError, load_document_types, with_accepted_references
from edms.documents.types.model import (
    CASE_PHYSICIAN,
    LANGUAGES,
    NAMED_SIGNERS,
    SIGNATURE_MEANINGS,
    SIGNING_ROLES,
    FieldDef,
    SignatureStep,
)
from edms.documents.types.values import FieldError, canonical_value

__all__ = [
    "CASE_PHYSICIAN",
    "LANGUAGES",
    "NAMED_SIGNERS",
    "SIGNATURE_MEANINGS",
    "SIGNING_ROLES",
    "DefinitionError",
    "DocumentType",
    "FieldDef",
    "FieldError",
    "LocalizedText",
    "SignatureStep",
    "canonical_value",
    "load_document_types",
    "with_accepted_references",
]
