#!/usr/bin/env bash
# The Python client suite: demisto-sdk and demisto-py (PyPI) against `xsoar-emu serve`.
#
#   tests/python/run.sh [pytest args]
#
# Creates tests/python/.venv on first use (or when requirements.txt changes), builds the
# release binary unless XSOAR_EMU_BIN points at one, and runs pytest. Exits non-zero when a
# test fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${XSOAR_EMU_VENV:-$here/.venv}"

# The clients honour proxies for http:// URLs; the server is on loopback.
unset http_proxy https_proxy all_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# Set, these switch the clients to XSOAR 8 / session-login modes.
unset XSIAM_AUTH_ID DEMISTO_API_KEY_ID DEMISTO_USERNAME DEMISTO_PASSWORD
export DEMISTO_SDK_IGNORE_CONTENT_WARNING=1 DEMISTO_SDK_SKIP_VERSION_CHECK=1 DEMISTO_SDK_OFFLINE_ENV=1

if [ ! -x "$venv/bin/pytest" ] || ! cmp -s "$here/requirements.txt" "$venv/.requirements.txt"; then
  start=$(date +%s)
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/.requirements.txt"
  echo "python environment ready in $(( $(date +%s) - start ))s"
fi

if [ -z "${XSOAR_EMU_BIN:-}" ]; then
  (cd "$root" && cargo build --release -p xsoar-emu)
  export XSOAR_EMU_BIN="${CARGO_TARGET_DIR:-$root/target}/release/xsoar-emu"
fi

cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider -q -rfE "$@"
