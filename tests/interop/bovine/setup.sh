#!/usr/bin/env bash
# Create .venv-bovine (at the repository root) (bovine-herd and its pinned dependencies) for
# the bovine interop tests. Idempotent: does nothing when the venv already holds
# exactly requirements.txt. Override the interpreter with BOVINE_SETUP_PYTHON.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/../../.." && pwd)/.venv-bovine"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "bovine venv up to date: $venv"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  "${BOVINE_SETUP_PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -m pip check --disable-pip-version-check
# Import check from a scratch directory: importing bovine creates its JSON-LD cache in the cwd.
scratch="$(mktemp -d)"
(cd "$scratch" && "$venv/bin/python" -c "import bovine, bovine_herd, bovine_tool, hypercorn, quart, http_sf")
rm -rf "$scratch"
echo "$want" > "$stamp"
echo "bovine venv ready: $venv"
