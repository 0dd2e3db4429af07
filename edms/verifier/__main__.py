"""`python -m edms.verifier PACKAGE.zip`, and the entry point of the zipapp shipped in every package."""
import sys

from edms.verifier.cli import main

sys.exit(main())
