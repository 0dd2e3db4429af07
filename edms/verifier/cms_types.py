"""What the verifier reads of a CMS SignedData (RFC 5652): the fields it checks, as read by
`edms.verifier.cms` (the reference reader) or `edms.verifier.one_pass` (the same values, read faster)."""
from __future__ import annotations

from dataclasses import dataclass

from edms.verifier.der import Node
from edms.verifier.errors import Invalid


@dataclass(frozen=True)
class SignerInfo:
    issuer: bytes | None  # DER of the issuer Name (issuerAndSerialNumber), or None
    serial: int | None
    key_id: bytes | None  # subjectKeyIdentifier, the other way to name the signer
    digest_oid: str
    signed_attrs: Node | None
    attributes: dict[str, list[Node]]
    signature_oid: str
    signature: bytes

    def single_value(self, name: str, what: str) -> Node | None:
        values = self.attributes.get(name)
        if values is None:
            return None
        if len(values) != 1:
            raise Invalid(f"the signed attribute {what} must have exactly one value")
        return values[0]


@dataclass(frozen=True)
class SignedData:
    content_type: str
    content: bytes | None  # None when detached
    certificates: tuple[bytes, ...]  # DER
    signers: tuple[SignerInfo, ...]

    @property
    def signer(self) -> SignerInfo:
        if len(self.signers) != 1:
            raise Invalid(f"expected exactly one signer, found {len(self.signers)}")
        return self.signers[0]
