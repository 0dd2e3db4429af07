"""What both formats print, already in the chosen language: the labels, each field as a person reads it,
each signature manifestation, and the version history. DOCX and PDF only place it on the page."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from edms.documents.renditions.model import (
    Rendition,
    RenditionAttachment,
    RenditionSignature,
)
from edms.documents.statuses import status_label
from edms.documents.types import (
    SIGNATURE_MEANINGS,
    SIGNING_ROLES,
    FieldDef,
    LocalizedText,
    canonical_value,
)
from edms.timeutil import format_in_zone

GREY = (90, 90, 90)
RED = (176, 0, 0)  # an invalid signature must stand out


_TEXT: dict[str, tuple[str, str]] = {
    "number": ("Document number", "文書番号"),
    "document_type": ("Document type", "文書の種類"),
    "title": ("Title", "表題"),
    "version": ("Version", "版"),
    "status": ("Status", "状態"),
    "header": ("{number} | Version {version} | Status: {status}", "{number} | 第{version}版 | 状態: {status}"),
    "page": ("Page {page} of {pages}", "{page} / {pages} ページ"),
    "content": ("Record content", "記録内容"),
    "attachments": ("Attachments", "添付ファイル"),
    "no_attachments": ("No attachments", "添付ファイルなし"),
    "file": ("File", "ファイル"),
    "media_type": ("Type", "形式"),
    "size": ("Size (bytes)", "サイズ（バイト）"),
    "bytes": ("bytes", "バイト"),
    "signatures": ("Electronic signatures", "電子署名"),
    "no_signatures": ("No signatures yet", "署名はまだありません"),
    "printed_name": ("Signed by", "署名者"),
    "role": ("Role", "役割"),
    "meaning": ("Meaning", "署名の意味"),
    "signed_at": ("Date and time", "署名日時"),
    "signature_id": ("Signature ID", "署名ID"),
    "step": ("Step", "手順"),
    "comment": ("Comment", "コメント"),
    "on_behalf_of": ("On behalf of", "代理（委任者）"),
    "rejection": ("Refused to sign: {meaning}", "署名拒否: {meaning}"),
    "rejection_reason": ("Reason for refusal", "拒否の理由"),
    "verification": ("Verification", "検証結果"),
    "history": ("Version history", "版の履歴"),
    "created_at": ("Created", "作成日時"),
    "reason": ("Reason", "理由"),
    "current": ("(this version)", "（本版）"),
    "revised": (
        "This record has been revised: this copy shows version {version}. All versions are listed under Version history.",
        "本記録は改訂されています。本書は第{version}版を示します。全ての版は「版の履歴」に記載しています。",
    ),
    "stamp": (
        "Rendered from content SHA-256 {sha256}; this rendition is a derived copy.",
        "コンテンツ SHA-256 {sha256} から生成。本書は派生コピーです。",
    ),
    "generated": ("Generated {time}", "生成日時 {time}"),
    "yes": ("Yes", "はい"),
    "no": ("No", "いいえ"),
    "empty": ("(not entered)", "（未記入）"),
}

# Every fixed text a rendition may print: a font subset made for renditions must cover all of them.
PRINTED_LABELS = (_TEXT, SIGNATURE_MEANINGS, SIGNING_ROLES)


@dataclass(frozen=True)
class _Signature:
    rows: list[tuple[str, str]]  # the last row is the verification status
    valid: bool


@dataclass(frozen=True)
class Layout:
    """What both formats print, already in the chosen language."""

    header: str
    page: str
    heading: str
    meta: list[tuple[str, str]]
    revised_note: str | None
    fields: list[tuple[str, str]]
    attachments: list[RenditionAttachment]
    signatures: list[_Signature]
    versions: list[tuple[str, str, str, str]]
    stamp: str
    generated: str


def text_for(language: str, key: str) -> str:
    """One of the fixed labels (`_TEXT`) in the rendition's language."""
    en, ja = _TEXT[key]
    return ja if language == "ja" else en


def every_label(language: str) -> list[str]:
    """Every fixed label (`_TEXT`) in the language: what a PDF's fonts must hold beside the record's own texts."""
    return [text_for(language, key) for key in _TEXT]


def _controlled_label(labels: Mapping[str, LocalizedText], key: str, language: str) -> str:
    return labels[key].text(language) if key in labels else key


def display_field(definition: FieldDef, value: object, language: str, zone: str) -> str:
    """A stored (canonical or clean) value as a person reads it; the same on screen and on paper."""
    if value is None or value == [] or value == "":
        return text_for(language, "empty")
    try:
        canonical = canonical_value(definition, value)
    except (ValueError, ArithmeticError):
        return str(value)  # a value that no longer fits its definition is shown as stored, never hidden
    if definition.type == "boolean":
        return text_for(language, "yes" if canonical else "no")
    if definition.type in ("choice", "multichoice"):
        items = canonical if isinstance(canonical, list) else [canonical]
        return "; ".join(definition.choice_label(str(item), language) for item in items)
    if definition.type == "document_refs" and isinstance(canonical, list):
        return ", ".join(canonical)
    if definition.type == "datetime":
        try:
            return format_in_zone(datetime.fromisoformat(str(canonical)), zone)
        except ValueError:
            return str(canonical)
    if definition.unit:
        return f"{canonical} {definition.unit}"
    return str(canonical)


def _signature_layout(r: Rendition, s: RenditionSignature) -> _Signature:
    lang = r.language
    meaning = _controlled_label(SIGNATURE_MEANINGS, s.meaning, lang)
    if s.kind == "rejection":
        meaning = text_for(lang, "rejection").format(meaning=meaning)
    step = next((step.label.text(lang) for step in r.doc_type.steps if step.name == s.step), s.step)
    rows = [
        (text_for(lang, "printed_name"), s.printed_name),
        (text_for(lang, "role"), _controlled_label(SIGNING_ROLES, s.role, lang)),
        (text_for(lang, "meaning"), meaning),
        (text_for(lang, "signed_at"), format_in_zone(s.signed_at, s.display_tz)),
    ]
    if step:
        rows.append((text_for(lang, "step"), step))
    if s.on_behalf_of:
        rows.append((text_for(lang, "on_behalf_of"), s.on_behalf_of))
    if s.comment:
        rows.append((text_for(lang, "rejection_reason" if s.kind == "rejection" else "comment"), s.comment))
    # The verification result stays the last row: both formats mark it when invalid.
    rows += [(text_for(lang, "signature_id"), s.signature_id), (text_for(lang, "verification"), s.status)]
    return _Signature(rows=rows, valid=s.status == "valid")


def lay_out(r: Rendition) -> Layout:
    """Everything `r` prints, in its language and time zone, in the order both formats print it."""
    lang = r.language
    revised = r.version > 1 or len(r.versions) > 1
    fields = [
        (definition.label.text(lang), display_field(definition, r.values.get(definition.name), lang, r.display_tz))
        for definition in r.doc_type.fields
    ]
    known = {definition.name for definition in r.doc_type.fields}
    # Values the current definition no longer names are still part of the record: print them raw.
    fields += [(name, str(value)) for name, value in r.values.items() if name not in known]
    signatures = [_signature_layout(r, s) for s in r.signatures]
    versions = [
        (
            f"{v.version}{' ' + text_for(lang, 'current') if v.version == r.version else ''}",
            status_label(v.status, lang),
            format_in_zone(v.created_at, r.display_tz),
            v.reason,
        )
        for v in sorted(r.versions, key=lambda v: v.version)
    ]
    return Layout(
        header=text_for(lang, "header").format(number=r.number, version=r.version, status=status_label(r.status, lang)),
        page=text_for(lang, "page"),
        heading=r.doc_type.name.text(lang),
        meta=[
            (text_for(lang, "number"), r.number),
            (text_for(lang, "title"), r.title),
            (text_for(lang, "document_type"), r.doc_type.name.text(lang)),
            (text_for(lang, "version"), str(r.version)),
            (text_for(lang, "status"), status_label(r.status, lang)),
        ],
        revised_note=text_for(lang, "revised").format(version=r.version) if revised else None,
        fields=fields,
        attachments=list(r.attachments),
        signatures=signatures,
        versions=versions,
        stamp=text_for(lang, "stamp").format(sha256=r.content_sha256),
        generated=text_for(lang, "generated").format(time=format_in_zone(r.generated_at, r.display_tz)),
    )
