"""The human-readable parts of an inspection package: VERIFY.md, report.html and report.pdf.

VERIFY.md gives the exact openssl commands, with this package's paths and times, that check every
signature, time-stamp, certificate and checkpoint without edms (21 CFR 11.30: signatures verify outside
the application). The report shows every version, signature manifestation (printed name, role, meaning,
time with zone, verification result at export) and the history of each record (11.10(b), 11.50).
Written outside any request, so in English; document-type, meaning and role labels follow the package's
language.
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from jinja2 import Environment, FileSystemLoader, select_autoescape

from edms.documents.renditions import find_pdf_font
from edms.documents.renditions.font_subset import subset_font_file
from edms.documents.types import SIGNATURE_MEANINGS, SIGNING_ROLES
from edms.inspection.labels import Labels
from edms.inspection.manifest import VERIFIER_FILE
from edms.inspection.report_pdf_writer import _RED, _Pdf, _Script, page_texts
from edms.resources import TEMPLATES_DIR
from edms.timeutil import isoformat_utc

# After a rollover (edms pki rollover-root) the package also ships the replaced roots and signing CAs
# (manifest.json's pki entries previous_root_<n>, previous_signing_ca_<n>) and, for openssl, bundles of them.
PREVIOUS_ROOT, PREVIOUS_SIGNING_CA = "previous_root_", "previous_signing_ca_"
ROOTS_BUNDLE, SIGNING_CAS_BUNDLE = "pki/roots.pem", "pki/signing-cas.pem"

if TYPE_CHECKING:
    from edms.inspection.package import PackageContent, SignedItem

_TEMPLATES = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)),
                         autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)


def epoch(moment: datetime) -> int:
    """Seconds since 1970 for openssl's -attime (whole seconds, rounded down: never before the event)."""
    return int(moment.timestamp())


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def meaning_label(signed: SignedItem, language: str) -> str:
    label = SIGNATURE_MEANINGS.get(signed.row.meaning)
    text = label.text(language) if label else signed.row.meaning
    return f"Refused to sign: {text}" if signed.shown.rejection else text


def role_label(role: str, language: str) -> str:
    label = SIGNING_ROLES.get(role)
    return label.text(language) if label else role


def _labels(content: PackageContent) -> Labels:
    return content.labels or Labels(content.language)


def _title(content: PackageContent) -> str:
    if content.scope.kind == "case":
        return f"Case {_labels(content).case(content.scope.id)}"
    return content.documents[0].row.number if content.documents else content.scope.describe()


# --- VERIFY.md ------------------------------------------------------------------------------------------


def trust_files(certificates: Mapping[str, tuple[str, x509.Certificate]]) -> tuple[str, str, dict[str, bytes]]:
    """What openssl is given: the -CAfile (the root, or after a rollover a bundle of every root), the
    -untrusted signing CA (or a bundle of every signing CA), and the bundle files to add to the package."""
    def bundle(role: str, prefix: str, path: str) -> tuple[str, dict[str, bytes]]:
        certs = [cert for name, (_, cert) in certificates.items() if name == role or name.startswith(prefix)]
        if len(certs) == 1:
            return certificates[role][0], {}
        return path, {path: b"".join(cert.public_bytes(Encoding.PEM) for cert in certs)}

    ca_file, roots = bundle("root", PREVIOUS_ROOT, ROOTS_BUNDLE)
    untrusted, cas = bundle("signing_ca", PREVIOUS_SIGNING_CA, SIGNING_CAS_BUNDLE)
    return ca_file, untrusted, {**roots, **cas}


def verify_markdown(content: PackageContent, files: Mapping[str, bytes]) -> str:
    """The instructions, with every path and time of this package. `files` are all files but VERIFY.md."""
    root_path, root = content.certificates["root"]
    ca_file, untrusted, _ = trust_files(content.certificates)
    crl_issuer = content.certificates["signing_ca"][0]
    created = epoch(content.created_at)
    lines = [
        f"# Verifying this inspection package: {_title(content)}",
        "",
        f"Exported {isoformat_utc(content.created_at)} (UTC) by {content.created_by.user_name} from edms "
        f"{content.app_version} of {content.organisation}.",
        "",
        "Everything below runs offline with the `openssl` command line (1.1.1 or 3.x) from the directory where "
        "the ZIP was extracted. Each command must print `Verification successful`, `Verification: OK`, "
        "`verify OK` or `OK`. Validity is judged with `-attime` at the moment each signature was time-stamped, "
        "so the commands give the same answer after the certificates have expired.",
        "",
        "The same checks, and the links between the files (content hashes, signers, audit events, the audit "
        "log's Merkle inclusion and consistency proofs), are made in one go by the standalone verifier, "
        "`edms-verify` (Python 3.11 and the `cryptography` package only).",
        "",
        "**Take the verifier from a trusted source, never from the package it checks**: the `edms-verify` "
        f"published with the release of edms {content.app_version}, or installed by your organisation. Whoever "
        "could alter this package could also alter a verifier shipped inside it so that it passes. The copy in "
        "the package, the zipapp `edms_verify.pyz`, is for convenience only; its SHA-256 is "
        f"`{hashlib.sha256(files.get(VERIFIER_FILE, b'')).hexdigest()}`: compare it with the SHA-256 published "
        "with the release before you run it (packages exported by edms 0.1 ship it as `edms_verify.py`).",
        "",
        "```",
        "edms-verify PACKAGE.zip --root ROOT-CA-YOU-TRUST.pem",
        "python3 edms_verify.pyz PACKAGE.zip --root ROOT-CA-YOU-TRUST.pem   # the copy, once its SHA-256 matches",
        "```",
        "",
        "## 1. The trust anchor",
        "",
        f"Every certificate here chains to `{root_path}`, the organisation's root CA ({subject(root)}), SHA-256 "
        f"fingerprint `{fingerprint(root)}`. Compare that fingerprint with the one the organisation published "
        "to you independently of this package: the checks below prove only that the evidence chains to this root.",
        "",
        *([] if ca_file == root_path else [
            f"The organisation rolled its root over: what was signed earlier chains to a previous root "
            f"({', '.join(f'`{path}`' for name, (path, _) in content.certificates.items() if name.startswith(PREVIOUS_ROOT))}"
            f"), whose fingerprint you compare the same way. `{ca_file}` holds every root and is the `-CAfile` below; "
            f"`{untrusted}` holds every signing CA.",
            "",
        ]),
        "```sh",
        f"openssl x509 -in {root_path} -noout -subject -fingerprint -sha256",
        *(f"openssl x509 -in {path} -noout -subject -fingerprint -sha256"
          for name, (path, _) in content.certificates.items() if name.startswith(PREVIOUS_ROOT)),
        "```",
        "",
        "## 2. The package seal and every file",
        "",
        "`manifest.json` lists every other file with its SHA-256. The system key signed it "
        "(`manifest.json.p7s`, detached CMS) and the signature value (`manifest.json.sigvalue.bin`) is "
        "time-stamped (`manifest.json.tsr`, RFC 3161).",
        "",
        "```sh",
        f"openssl cms -verify -binary -inform DER -in manifest.json.p7s -content manifest.json -CAfile {ca_file} "
        f"-attime {created} -out /dev/null",
        f"openssl ts -verify -in manifest.json.tsr -data manifest.json.sigvalue.bin -CAfile {ca_file} -attime {created}",
        "```",
        "",
        "The signer must be the system certificate `pki/system.pem` (`-signer signer.pem` writes the signer "
        "out for comparison). Each file must hash to the value listed here (and in manifest.json); "
        "`openssl dgst -sha256 -r FILE` prints the same format, and `sha256sum -c` reads this list:",
        "",
        "```text",
        *(f"{hashlib.sha256(data).hexdigest()} *{path}" for path, data in sorted(files.items())),
        "```",
        "",
        "## 3. Electronic signatures",
        "",
        "For each signature: the CMS signature over the exact signed bytes (`manifest.json`, which names the "
        "signer, the meaning, the time, the document, the version and its content SHA-256); the RFC 3161 "
        "time-stamp over the signature value (`sigvalue.bin`); and the signer's certificate chain at the "
        "time-stamped moment. The signed `content_sha256` must equal the SHA-256 of the version's "
        "`content.json`.",
        "",
        "A signature's `evidence.ers`, once it has one, is its RFC 4998 Evidence Record: archive time-stamps "
        "with the certificates and CRLs that keep it verifiable after its certificates expire. openssl does not "
        "read it; `edms-verify` checks it today, or at another moment of judgement with `--at YYYY-MM-DD`.",
        "",
    ]
    for document in content.documents:
        for version in document.versions:
            for signed in version.signatures:
                lines += _signature_commands(signed, version.content_path, ca_file, untrusted, content.language)
    lines += [
        "Revocation: the signing CA's CRL, issued when the package was exported, must be signed by the "
        "signing CA; a signer's certificate serial (`openssl x509 -in .../signer.pem -noout -serial`) listed "
        "there invalidates only signatures time-stamped at or after its revocation date.",
        "",
        "```sh",
        f"openssl crl -in pki/signing-ca.crl.pem -CAfile {crl_issuer} -noout",
        "openssl crl -in pki/signing-ca.crl.pem -noout -text",
        "```",
        "",
        "## 4. The audit trail",
        "",
        "Each line of `audit/events.jsonl` is exactly the bytes whose SHA-256 is that event's hash (canonical "
        "JSON, RFC 8785); each line's `prev_hash` is the hash of the line before it, and the last line of "
        "each stretch of consecutive `seq` is the head hash a checkpoint below signed. This prints every "
        "line's hash:",
        "",
        "```sh",
        "while IFS= read -r line; do printf '%s' \"$line\" | openssl dgst -sha256 -r; done < audit/events.jsonl",
        "```",
        "",
        "Each checkpoint's `payload.json` names the `seq` and `head_hash` it signs; the system key signed it and "
        "the signature value is time-stamped (a bare token, hence `-token_in`):",
        "",
    ]
    for item in content.checkpoints:
        base, when = item.directory, epoch(item.row.timestamped_at)
        lines += [
            f"### Checkpoint #{item.row.number}: seq {item.row.seq}, time-stamped {isoformat_utc(item.row.timestamped_at)}",
            "",
            "```sh",
            f"openssl cms -verify -binary -inform DER -in {base}/signature.p7s -content {base}/payload.json "
            f"-CAfile {ca_file} -attime {when} -out /dev/null",
            f"openssl ts -verify -token_in -in {base}/timestamp.tst -data {base}/sigvalue.bin -CAfile {ca_file} "
            f"-attime {when}",
            "```",
            "",
        ]
    return "\n".join(lines + _signed_pdf_section(content, root_path)) + "\n"


def _signed_pdf_section(content: PackageContent, root_path: str) -> list[str]:
    """How to check the signed PDFs (PAdES) with ordinary tools: pdfsig, pyHanko, Acrobat."""
    pdfs = [version.signed_pdf[0] for document in content.documents for version in document.versions
            if version.signed_pdf is not None]
    if not pdfs:
        return []
    return [
        "## 5. The signed PDFs (PAdES)",
        "",
        "Each version's `signed.pdf` carries every signature of the version as a PAdES signature "
        "(`/SubFilter /ETSI.CAdES.detached`, with a signature time-stamp), the certificates and CRLs in its "
        "Document Security Store, and a document time-stamp once the version is final. It was only ever "
        "appended to: manifest.json lists each revision's length and SHA-256, and `edms-verify` checks them, "
        "each signature's byte range and CMS. A full PDF validation (what each later revision changed, the "
        "long-term validation data) needs a PDF library: poppler's `pdfsig` or pyHanko.",
        "",
        "With poppler's `pdfsig` (Debian package `poppler-utils`), first trust the root in an NSS database "
        "(`certutil`, Debian package `libnss3-tools`); every `ETSI.CAdES.detached` signature must print "
        "`Signature is Valid.`, and its certificate line says whether the chain to that root is trusted "
        "(pdfsig does not validate document time-stamps):",
        "",
        "```sh",
        "mkdir -p nssdb && certutil -N -d sql:nssdb --empty-password",
        f"certutil -A -d sql:nssdb -n edms-root -t CT,C,C -i {root_path}",
        *(f"pdfsig -nssdir sql:nssdb {path}" for path in pdfs),
        "```",
        "",
        "With pyHanko's command line (`pip install pyhanko-cli`), including the modification analysis and the "
        "long-term validation:",
        "",
        "```console",
        *(f"pyhanko sign validate --trust {root_path} --trust-replace --pretty-print --ltv-profile pades-lta {path}"
          for path in pdfs),
        "```",
        "",
        f"In Adobe Acrobat or Reader: Preferences > Signatures > Identities & Trusted Certificates > More... > "
        f"Trusted Certificates > Import, choose `{root_path}`, then Edit Trust and tick \"Use this certificate as "
        "a trusted root\" (and \"Certified documents\"); open each `signed.pdf`: the signature panel shows each "
        "signature valid, time-stamped and LTV-enabled.",
        "",
    ]


def _signature_commands(signed: SignedItem, content_path: str, ca_file: str, ca_path: str, language: str) -> list[str]:
    base, when, shown = signed.directory, epoch(signed.row.timestamped_at), signed.shown
    return [
        f"### {signed.row.signature_id}: {shown.printed_name} ({role_label(shown.role, language)}), "
        f"{meaning_label(signed, language)}, {isoformat_utc(signed.row.signed_at)}",
        "",
        "```sh",
        f"openssl cms -verify -binary -inform DER -in {base}/signature.p7s -content {base}/manifest.json "
        f"-CAfile {ca_file} -attime {when} -out /dev/null",
        f"openssl ts -verify -in {base}/timestamp.tsr -data {base}/sigvalue.bin -CAfile {ca_file} -attime {when}",
        f"openssl verify -attime {when} -CAfile {ca_file} -untrusted {ca_path} {base}/signer.pem",
        f"openssl dgst -sha256 -r {content_path}",
        "```",
        "",
    ]


# --- report.html ----------------------------------------------------------------------------------------


def report_html(content: PackageContent, verifier_sha256: str = "") -> str:
    return _TEMPLATES.get_template("inspection/package_report.html").render(
        content=content, title=_title(content), local=content.local,
        utc=isoformat_utc, fingerprint=fingerprint, subject=subject,
        meaning_label=lambda signed: meaning_label(signed, content.language),
        role_label=lambda role: role_label(role, content.language), verifier_sha256=verifier_sha256,
        labels=_labels(content),
    )


# --- report.pdf -----------------------------------------------------------------------------------------


def report_pdf(content: PackageContent, verifier_sha256: str = "", *, raw_lines: bool = True,
               whole_font: bool = False) -> bytes:
    """`raw_lines=False`: every line through fpdf2's cell; `whole_font=True`: fpdf2 given the whole font, not the
    font cut down to what reports print (edms.documents.renditions.font_subset). Both are the reference the fast path
    must equal byte for byte."""
    zone = content.display_tz
    title = _title(content)
    labels = _labels(content)
    pdf = _Script()  # the lines first, so that the fallback font is loaded only where one needs it
    pdf.heading(f"Inspection package: {title}", size=16)
    pdf.line_of(f"Exported {content.local(content.created_at)} by {content.created_by.user_name}, edms "
                f"{content.app_version}, {content.organisation}.")
    pdf.line_of(f"{len(content.documents)} document(s), {len(content.signatures)} signature(s), "
                f"{len(content.events)} audit events, {len(content.checkpoints)} checkpoint(s). Verification results "
                "below are those computed at export; check again with edms-verify from a trusted source (the release, "
                "or your organisation), not from the package, or with the commands in VERIFY.md. The copy in the "
                f"package, edms_verify.pyz, has SHA-256 {verifier_sha256 or 'see VERIFY.md'}: compare it with the "
                "one published with the release.")
    for document in content.documents:
        row = document.row
        pdf.heading(f"{row.number} · {row.title}")
        pdf.line_of(f"{document.doc_type.name.text(content.language)} · status {labels.status(row.status)}"
                    + (f" · case {labels.case(row.case_id)}" if row.case_id is not None else ""))
        if document.retention is not None:
            pdf.line_of(f"Retention: {document.retention.text.text(content.language)} "
                        f"({document.retention.rule.period.text(content.language)}; {document.retention.rule.source})")
        for version in document.versions:
            v = version.row
            pdf.heading(f"Version {v.version} ({labels.status(v.status)})", size=11)
            pdf.line_of(f"Created {content.local(v.created_at)}"
                        + (f"; submitted {content.local(v.frozen_at)}" if v.frozen_at else "")
                        + (f"; reason: {v.reason}" if v.reason else ""))
            pdf.line_of(f"Content SHA-256 {v.content_sha256 or version.content_sha256 + ' (draft, not frozen)'}", size=8)
            for signed in version.signatures:
                shown = signed.shown
                pdf.line_of(f"{meaning_label(signed, content.language)}: {shown.printed_name} "
                            f"({role_label(shown.role, content.language)}), {content.local(signed.row.signed_at)}"
                            + (f", on behalf of {shown.on_behalf_of.text(zone)}" if shown.on_behalf_of else "")
                            + (f" — reason: {shown.comment}" if shown.rejection and shown.comment else ""))
                pdf.line_of(f"Signature {signed.row.signature_id}: {shown.verdict.status}", size=8,
                            colour=(0, 0, 0) if shown.verdict.ok else _RED)
        pdf.heading("History", size=11)
        for entry in document.timeline.entries:
            what = labels.action(entry.action) + (f" v{entry.version}" if entry.version else "")
            reason = f" — {entry.reason}" if entry.reason else ""
            pdf.line_of(f"{content.local(entry.at)} · seq {entry.seq or '—'} · {what} · {entry.actor}{reason}", size=8)
    pdf.heading("Audit trail and checkpoints")
    pdf.line_of(f"Chain segments (seq): {', '.join(f'{start}–{end}' for start, end in content.segments)}; "
                f"events about these records: {len(content.relevant)}; export recorded at seq {content.export_seq}.")
    for item in content.checkpoints:
        pdf.line_of(f"Checkpoint #{item.row.number}: seq {item.row.seq}, head hash {item.row.head_hash}, "
                    f"time-stamped {content.local(item.row.timestamped_at)}", size=8)
    pdf.heading("Certificates")
    for role, (path, cert) in content.certificates.items():
        pdf.line_of(f"{role} ({path}): {subject(cert)}", size=8)
        pdf.line_of(f"SHA-256 {fingerprint(cert)}; valid {isoformat_utc(cert.not_valid_before_utc)} to "
                    f"{isoformat_utc(cert.not_valid_after_utc)}", size=7)
    texts = [page_texts(title), *(text for _kind, text, _size, _colour in pdf.calls)]
    with contextlib.ExitStack() as stack:
        font = None if whole_font else stack.enter_context(subset_font_file(find_pdf_font(), "".join(texts)))
        out = _Pdf(title, raw_lines=raw_lines, texts=texts, font=font)
        out.set_title(f"Inspection package: {title}")
        out.set_creator("edms")
        out.set_creation_date(content.created_at)
        out.add_page()
        for kind, text, size, colour in pdf.calls:
            if kind == "heading":
                out.heading(text, size=size)
            else:
                out.line_of(text, size=size, colour=colour)
        return bytes(out.output())
