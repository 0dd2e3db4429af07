"""SoftHSM2 (Debian's `softhsm2`) as the tests' HSM: a configuration and token directory of the test run's
own, and a fresh token for each test, made with `softhsm2-util` as an HSM's security officer would."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from edms.pki.token import TokenConfig, forget_sessions

MODULE_PATHS = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so")
USER_PIN = "4821-0736"
SO_PIN = "security-officer-9930"


def module_path() -> str | None:
    return next((path for path in MODULE_PATHS if Path(path).is_file()), None)


def require_softhsm() -> str:
    """The module's path; skipped where SoftHSM2 is not installed, but never in CI (there it must run)."""
    module = module_path()
    if module is None or shutil.which("softhsm2-util") is None:
        if os.environ.get("CI"):
            pytest.fail("SoftHSM2 is not installed (Debian package softhsm2, scripts/setup.sh), and CI is set")
        pytest.skip("SoftHSM2 is not installed (Debian package softhsm2)")
    return module


@dataclass
class SoftHsm:
    """A SOFTHSM2_CONF of its own (set in this process's environment, inherited by the `edms` it starts)."""

    directory: Path
    module: str

    @classmethod
    def create(cls, directory: Path, module: str) -> SoftHsm:
        tokens = directory / "tokens"
        tokens.mkdir(parents=True)
        conf = directory / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
                        "slots.removable = false\n")
        os.environ["SOFTHSM2_CONF"] = str(conf)
        return cls(directory, module)

    def new_token(self, label: str | None = None) -> TokenConfig:
        """A fresh, empty token (the security officer's `--init-token`), visible to this process at once."""
        label = label or f"edms-{secrets.token_hex(4)}"
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", USER_PIN,
                        "--so-pin", SO_PIN], check=True, capture_output=True, env=os.environ.copy())
        forget_sessions()
        return TokenConfig(self.module, label, USER_PIN)

    def environment(self, token: TokenConfig, *, pin: str | None = None) -> dict[str, str]:
        """What a node is started with: the module and label (configuration) and the PIN (environment only)."""
        return {"SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"], "EDMS_PKCS11_MODULE": token.module,
                "EDMS_PKCS11_TOKEN_LABEL": token.label, "EDMS_PKCS11_PIN": token.pin if pin is None else pin}
