#!/usr/bin/env bash
# Extract translatable strings, merge them into the Japanese catalogue, and compile it.
#   scripts/i18n.sh          extract + update + compile
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
$PY -m babel.messages.frontend extract -F babel.cfg -k _l -k N_ -k lazy_gettext -o edms/translations/messages.pot --no-location --sort-output --project edms --omit-header . >/dev/null 2>&1
if [ -f edms/translations/ja/LC_MESSAGES/messages.po ]; then
  $PY -m babel.messages.frontend update -i edms/translations/messages.pot -d edms/translations -l ja --no-fuzzy-matching >/dev/null 2>&1
else
  $PY -m babel.messages.frontend init -i edms/translations/messages.pot -d edms/translations -l ja >/dev/null 2>&1
fi
$PY -m babel.messages.frontend compile -d edms/translations -l ja >/dev/null 2>&1
echo "untranslated: $(grep -c '^msgstr ""$' edms/translations/ja/LC_MESSAGES/messages.po || true) (multi-line entries included)"
