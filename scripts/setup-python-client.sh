#!/usr/bin/env bash
# A virtualenv with the `openai` client library (tests/clients/requirements.txt), outside the
# clone so CI reuses it. Prints nothing when it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${HEARTH_CLIENT_VENV:-$HOME/.cache/hearth/pyclient}
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s tests/clients/requirements.txt "$stamp"; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
cp tests/clients/requirements.txt "$stamp"
echo "python client: $("$venv/bin/python" -c 'import openai; print("openai", openai.__version__)') in $venv"
