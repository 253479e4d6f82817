#!/usr/bin/env bash
# Debian's Chromium for the search page's browser tests (test/page.test.ts drives it headless with
# playwright-core, which downloads no browser of its own).
#   chromium.sh install   apt-get chromium (and a font with metrics) when /usr/bin/chromium is missing
# The tests find it at CHROMIUM_PATH (default /usr/bin/chromium).
set -euo pipefail

case "${1:-}" in
  install)
    if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then exit 0; fi
    echo "installing chromium (Debian package) for the browser tests…" >&2
    sudo=()
    if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 chromium fonts-liberation >/dev/null
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
