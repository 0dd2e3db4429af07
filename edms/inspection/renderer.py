"""PDF and DOCX renditions of every version of an inspection package, made while the snapshot is read.

A version frozen and signed has its PDF stored (the signed PDF) and, once a first export made it, its DOCX
(edms.documents.rendition_models): where the package is in the language and zone of the case's site, those
are reused, each re-hashed as it is read from the blob store, and only what a fresh rendering would print
differently is made again (and stored for the next export).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import multiprocessing
import os
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from edms.audit import AuditContext
from edms.db import transaction
from edms.documents import models as dm
from edms.documents import renditions as renditions_module
from edms.documents.blobstore import BlobStore
from edms.documents.pdf_models import SignedPdfRevision
from edms.documents.rendition_models import DOCX, FrozenRendition
from edms.documents.rendition_operations import store_rendition
from edms.documents.rendition_queries import stored_renditions
from edms.documents.renditions import Rendition, find_pdf_font, render_docx, render_pdf
from edms.documents.renditions.word import docx_key
from edms.documents.statuses import status_label
from edms.documents.types import DocumentType
from edms.signatures.models import Signature
from edms.signatures.pdf_operations import pdf_locale
from edms.wording import LANGUAGES

log = logging.getLogger("edms")

# Below this many versions the renditions are made in this process; above, in parallel processes.
PARALLEL_FROM = 4
# Latin-1 and general punctuation: what English messages (signature verification results) may hold.
_COMMON = {chr(code) for code in (*range(0xA0, 0x180), *range(0x2010, 0x2070))}


def _render_both(rendition: Rendition, font: Path | None, pdf: bool = True,
                 docx: bool = True) -> tuple[bytes | None, bytes | None]:
    return render_pdf(rendition, font_path=font) if pdf else None, render_docx(rendition) if docx else None


def _in_site_locale(session: Session, documents: Sequence[dm.Document], language: str, display_tz: str) -> list[int]:
    """The versions of the documents whose case's site has this language and zone."""
    return [version.id for document in documents if pdf_locale(session, document) == (language, display_tz)
            for version in document.versions]


def frozen_pdfs(session: Session, documents: Sequence[dm.Document], language: str, display_tz: str) -> set[int]:
    """The versions whose PDF rendition is their signed PDF: frozen at submission (edms.signatures.pdf_operations)
    in the language and zone of the case's site, signed at each step. Where the package is in that language
    and zone, that stored PDF is the version's rendition (no second PDF of the same record is made); elsewhere
    a rendition in the package's language and zone is made."""
    wanted = _in_site_locale(session, documents, language, display_tz)
    if not wanted:
        return set()
    return set(session.scalars(select(SignedPdfRevision.version_id)
                               .where(SignedPdfRevision.version_id.in_(wanted)).distinct()))


@dataclasses.dataclass(frozen=True)
class DocxSource:
    """Where a version's DOCX in the package comes from: the stored one (`stored`), or made now and, when
    `key` is set (a frozen version in its site's language and zone), stored after the export."""

    document_id: int
    version_id: int
    key: str | None
    generated_at: datetime
    stored: FrozenRendition | None = None


class StoredDocx:
    """The DOCX renditions an export may reuse, and those it makes that are worth storing."""

    def __init__(self, session: Session, documents: Sequence[dm.Document], language: str, display_tz: str) -> None:
        self._eligible = {version.id for document in documents for version in document.versions if version.frozen}
        self._eligible &= set(_in_site_locale(session, documents, language, display_tz))
        self._stored = stored_renditions(session, self._eligible, DOCX, language, display_tz)

    def source(self, document: dm.Document, version: dm.DocumentVersion, rendition: Rendition) -> DocxSource:
        if version.id not in self._eligible:
            return DocxSource(document.id, version.id, None, rendition.generated_at)
        key = docx_key(rendition)
        return DocxSource(document.id, version.id, key, rendition.generated_at, self._stored.get((version.id, key)))


def store_new_docx(factory: sessionmaker[Session], ctx: AuditContext, blobs: BlobStore, language: str,
                   display_tz: str, made: Sequence[tuple[DocxSource, bytes]]) -> int:
    """Store the DOCX an export made (of frozen versions in their site's language and zone) for the next;
    returns how many. A failure here leaves the package, already complete, as it is: the next export simply
    makes them again."""
    made = [(source, data) for source, data in made if source.key is not None and source.stored is None]
    if not made:
        return 0
    try:
        with transaction(factory) as session:
            for source, data in made:
                document = session.get(dm.Document, source.document_id)
                version = session.get(dm.DocumentVersion, source.version_id)
                assert document is not None and version is not None and source.key is not None
                store_rendition(session, ctx, blobs, document, version, DOCX, language=language,
                                display_tz=display_tz, layout_sha256=source.key, data=data,
                                generated_at=source.generated_at)
    except (SQLAlchemyError, OSError):  # a store or database unavailable: the package is complete all the same
        log.warning("the DOCX renditions made by this export could not be stored", exc_info=True)
        return 0
    return len(made)


def record_texts(session: Session, documents: Sequence[dm.Document], types: Mapping[str, DocumentType]) -> list:
    """Everything the renditions of these documents can print besides their labels: titles, field values,
    reasons, attachment names, signers' names (in the signed manifests) and the types' own wording."""
    manifests = session.scalars(select(Signature.manifest).where(Signature.document_id.in_([d.id for d in documents])))
    return [
        [types[document.type_key] for document in documents],
        [[document.number, document.title, *((v.title, v.content, v.reason) for v in document.versions),
          *(a.display_name for v in document.versions for a in v.all_attachments)] for document in documents],
        [manifest.decode("utf-8", "replace") for manifest in manifests],
        [status_label(status, language) for status in dm.VERSION_STATUSES for language in LANGUAGES],
    ]


class Renderer:
    """PDF and DOCX of every version, made while the snapshot is still being read.

    fpdf2 parses the whole embedded font for every PDF, most of a rendition's cost: one subset of it,
    holding every character the package's records contain and every label the renditions print, is made
    once and each PDF parses only that (a character missing from a font would print as [U+XXXX], never
    vanish). Larger packages render in one worker process per CPU ("spawn": clean interpreters, safe in
    a threaded server); smaller ones in this process.
    """

    def __init__(self, directory: Path, versions: int, *, pdfs: int | None = None) -> None:
        """`versions`: how many versions are rendered; `pdfs`: how many of them need a PDF (all by default),
        which sets the pool's size; with none, no font is subset."""
        self._directory = directory
        self._font: Path | None = None
        self._pdfs = versions if pdfs is None else pdfs
        workers = min(self._pdfs, os.cpu_count() or 1)
        self._pool = (concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
                      if self._pdfs >= PARALLEL_FROM and workers > 1 else None)

    def prepare(self, texts: Iterable[object]) -> None:
        """Subset the rendition font to the characters of `texts` (walked through), the labels and ASCII."""
        if self._pdfs == 0:
            return  # every PDF is a stored one: no font needed
        characters = (set(string.printable) | _COMMON | _characters(list(vars(renditions_module).values()))
                      | _characters(texts))
        font = TTFont(str(find_pdf_font()))
        subsetter = subset.Subsetter(subset.Options(notdef_outline=True, name_IDs=["*"], glyph_names=False))
        subsetter.populate(text="".join(sorted(characters)))
        subsetter.subset(font)
        self._font = self._directory / "rendition-font.ttf"
        font.save(str(self._font))

    def submit(self, rendition: Rendition, *, pdf: bool = True,
               docx: bool = True) -> concurrent.futures.Future[tuple[bytes | None, bytes | None]]:
        """The PDF and the DOCX, each None when not asked for (the version's stored one is its rendition).
        Only PDFs go to the worker processes: a DOCX alone is made here, sooner than a worker starts."""
        if self._pool is not None and pdf:
            return self._pool.submit(_render_both, rendition, self._font, pdf, docx)
        done: concurrent.futures.Future[tuple[bytes | None, bytes | None]] = concurrent.futures.Future()
        done.set_result(_render_both(rendition, self._font, pdf, docx))
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _characters(value: object, seen: set[int] | None = None) -> set[str]:
    """Every character of every string in `value`, through dataclasses, mappings and other collections."""
    seen = set() if seen is None else seen
    if isinstance(value, str):
        return set(value)
    if isinstance(value, (int, float, Decimal, date)):
        return set(str(value))
    if id(value) in seen or value is None or isinstance(value, (bytes, type)):
        return set()
    seen.add(id(value))
    if dataclasses.is_dataclass(value):
        parts: Iterable[object] = [getattr(value, item.name) for item in dataclasses.fields(value)]
    elif isinstance(value, Mapping):
        parts = [*value.keys(), *value.values()]
    elif isinstance(value, Iterable):
        parts = list(value)
    else:
        return set()
    found: set[str] = set()
    for part in parts:
        found |= _characters(part, seen)
    return found
