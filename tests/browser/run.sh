#!/usr/bin/env bash
# Browser tests of the web console (crates/xsoar-console/tests/browser.rs).
#
# Installs what they need on a Debian machine — Debian's chromium and chromium-driver — when
# missing, then runs them: headless Chromium driven over WebDriver, against the console served
# in-process with the SIGNL4 simulator. Screenshots land in tests/artifacts/screenshots/.
# Exits non-zero on failure; the last line is the summary.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
echo "== $(chromium --version 2>/dev/null || echo 'chromium: version unknown')"
echo "== $(chromedriver --version)"

# The test must run here: never let an inherited variable skip it.
unset XSOAR_CONSOLE_SKIP_BROWSER
export XSOAR_CONSOLE_SCREENSHOTS="$PWD/tests/artifacts/screenshots"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test -p xsoar-console --test browser -- --nocapture 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

result="$(grep -E '^test result:' "$log" | tail -n 1 || true)"
passed="$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$result")"
failed="$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$result")"
if [ "$status" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then
  failed=1 # the build failed: nothing ran
fi
echo "== screenshots: $(ls tests/artifacts/screenshots/*.png 2>/dev/null | xargs -n1 basename 2>/dev/null | tr '\n' ' ')"
echo "browser: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
