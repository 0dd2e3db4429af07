"""PDF and DOCX renditions of every version of an inspection package, made while the snapshot is read."""
from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.documents import models as dm
from edms.documents import renditions as renditions_module
from edms.documents.pdf_models import SignedPdfRevision
from edms.documents.renditions import Rendition, find_pdf_font, render_docx, render_pdf
from edms.signatures.pdf_operations import pdf_locale

# Below this many versions the renditions are made in this process; above, in parallel processes.
PARALLEL_FROM = 4
# Latin-1 and general punctuation: what English messages (signature verification results) may hold.
_COMMON = {chr(code) for code in (*range(0xA0, 0x180), *range(0x2010, 0x2070))}


def _render_both(rendition: Rendition, font: Path | None, pdf: bool = True) -> tuple[bytes | None, bytes]:
    return render_pdf(rendition, font_path=font) if pdf else None, render_docx(rendition)


def frozen_pdfs(session: Session, documents: Sequence[dm.Document], language: str, display_tz: str) -> set[int]:
    """The versions whose PDF rendition is their signed PDF: frozen at submission (edms.signatures.pdf_operations)
    in the language and zone of the case's site, signed at each step. Where the package is in that language
    and zone, that stored PDF is the version's rendition (no second PDF of the same record is made); elsewhere
    a rendition in the package's language and zone is made."""
    ids = {document.id: [version.id for version in document.versions] for document in documents
           if pdf_locale(session, document) == (language, display_tz)}
    wanted = [version_id for version_ids in ids.values() for version_id in version_ids]
    if not wanted:
        return set()
    return set(session.scalars(select(SignedPdfRevision.version_id)
                               .where(SignedPdfRevision.version_id.in_(wanted)).distinct()))


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

    def submit(self, rendition: Rendition, *, pdf: bool = True) -> concurrent.futures.Future[tuple[bytes | None, bytes]]:
        """The PDF (None when `pdf` is false: the version's stored PDF is its rendition) and the DOCX. Only
        PDFs go to the worker processes: a DOCX alone is made here, sooner than a worker starts."""
        if self._pool is not None and pdf:
            return self._pool.submit(_render_both, rendition, self._font, pdf)
        done: concurrent.futures.Future[tuple[bytes | None, bytes]] = concurrent.futures.Future()
        done.set_result(_render_both(rendition, self._font, pdf))
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
