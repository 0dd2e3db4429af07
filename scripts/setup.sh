#!/usr/bin/env bash
# Everything the tests and checks need, on a clean machine: PostgreSQL, Chromium, Japanese fonts and openssl
# from Debian's packages when missing (root or sudo), and the Python packages (edms with its dev extra) in
# .venv. Safe to run again: it installs only what is missing and refreshes .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_packages+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_packages+=(chromium)
[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || need_packages+=(fonts-ipaexfont-gothic)
command -v openssl >/dev/null 2>&1 || need_packages+=(openssl)
command -v redis-server >/dev/null 2>&1 || need_packages+=(redis-server)  # the rate limits every app node shares (tests start their own)
command -v pdfsig >/dev/null 2>&1 || need_packages+=(poppler-utils)  # pdfsig: the signed PDFs checked by another tool
command -v certutil >/dev/null 2>&1 || need_packages+=(libnss3-tools)  # certutil: trust the root for pdfsig (VERIFY.md)
command -v softhsm2-util >/dev/null 2>&1 || need_packages+=(softhsm2)  # the HSM of the PKCS#11 tests (tests/integration/test_hsm.py)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${need_packages[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_packages[@]}"
fi
# PostgreSQL's packaged cluster is not used: the tests start their own throw-away server.

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
