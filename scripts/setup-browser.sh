#!/usr/bin/env bash
# Headless Chromium for the report-rendering test (Debian's package). Skips quietly when it
# cannot install (not root, no apt); the browser test then skips and says why.
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "setup-browser: could not install chromium; the browser test will be skipped" >&2
fi
exit 0
