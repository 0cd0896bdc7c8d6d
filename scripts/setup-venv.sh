#!/usr/bin/env bash
# Creates (or refreshes) a Python virtual environment from a requirements file. Idempotent: the
# venv is rebuilt only when the requirements file changed since it was last installed.
#   scripts/setup-venv.sh VENV_DIR REQUIREMENTS_FILE
set -euo pipefail
venv=$1
requirements=$2
stamp="$venv/.installed-requirements"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
