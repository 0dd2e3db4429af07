"""What an inspection package holds: its files by name, what manifest.json says, and the trust it ships
(root CA, system certificate, CA certificates, CRLs) against which everything in it is judged."""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO, Any

from cryptography import x509

from edms.verifier.cms import CmsResult
from edms.verifier.errors import Invalid
from edms.verifier.stamped import verify_stamped
from edms.verifier.timestamp import Stamp


@dataclass
class Trust:
    """The package's root CA (what everything must chain to), the system certificate that seals packages and
    signs checkpoints, the CA certificates the package ships, and its CRLs."""

    root: x509.Certificate
    system: x509.Certificate
    intermediates: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    # Roots replaced by a rollover, shipped as pki/previous-root-<n>.pem: earlier signatures chain to them.
    previous_roots: list[x509.Certificate] = field(default_factory=list)
    # The moment of judgement of the archive time-stamps (edms-verify --at): now unless given.
    judged_at: datetime | None = None

    @property
    def roots(self) -> list[x509.Certificate]:
        return [self.root, *self.previous_roots]

    def signed(self, cms: bytes, stamp_file: bytes, content: bytes) -> tuple[CmsResult, Stamp]:
        """A stored signature (CMS and the time-stamp of its signature value) over `content`, judged at the stamp."""
        result = verify_stamped(cms, stamp_file, content, self.roots, untrusted=self.intermediates, crls=self.crls)
        return result.signed, result.stamp


class Package:
    """The ZIP's files and what manifest.json says about them."""

    def __init__(self, files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        self.files = files
        self.manifest = manifest

    def read(self, path: str) -> bytes:
        try:
            return self.files[path]
        except (KeyError, TypeError):
            raise Invalid(f"{path} is missing from the package") from None


def open_package(source: str | IO[bytes]) -> dict[str, bytes]:
    """Every regular file in the ZIP by name; duplicate or unsafe names make the package unreadable."""
    with zipfile.ZipFile(source) as archive:
        files: dict[str, bytes] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            path = PurePosixPath(info.filename)
            if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
                raise Invalid(f"unsafe file name in the package: {info.filename!r}")
            if info.filename in files:
                raise Invalid(f"the file {info.filename} appears twice in the package")
            files[info.filename] = archive.read(info)
    return files
