"""`edms-verify PACKAGE.zip`: check an edms inspection package offline, with nothing but `cryptography`.

Exit status 0 when every item passes, 1 when any fails, 2 when the package cannot be read at all.
"""
from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from edms.verifier.package import verify_package
from edms.verifier.report import render


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="edms-verify",
        description="Verify an edms inspection package offline: file hashes, the system seal, every electronic "
                    "signature and time-stamp, certificates and revocation, content hashes and the audit chain.")
    parser.add_argument("package", help="the package (ZIP) exported by edms")
    parser.add_argument("--root", help="PEM file of the organisation's root CA obtained independently; the package "
                                       "must chain to exactly this root")
    parser.add_argument("--at", metavar="YYYY-MM-DD", type=_moment,
                        help="judge the signatures' archive time-stamps at this moment (UTC) instead of now")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list every file that matches")
    arguments = parser.parse_args(argv)
    root_pem = None
    try:
        if arguments.root:
            with open(arguments.root, "rb") as handle:
                root_pem = handle.read()
        with open(arguments.package, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        print(f"FAIL  package: cannot be read: {exc}")
        return 2
    report = verify_package(io.BytesIO(data), root_pem=root_pem, judged_at=arguments.at)
    for line in render(report, verbose=arguments.verbose):
        print(line)
    if len(report.items) == 1 and report.items[0].name == "package":
        return 2
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
