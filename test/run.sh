#!/usr/bin/env bash
# `npm test`: everything a fresh machine needs to pass the whole suite, then the suite.
#  1. installs what is missing: Debian's postgresql, Ceph (RADOS Gateway), Chromium (the page's browser
#     tests), podman (the images) and Fashion-MNIST (the picture tests), the npm packages (npm ci);
#  2. starts a PostgreSQL server and a Ceph RGW (real S3) on 127.0.0.1, in a temp dir;
#  3. checks (types, format, lint: `npm run check`), then runs every test/**/*.test.ts with node's test
#     runner against them;
#  4. stops the servers, whatever happened.
# `npm run test:unit` (this script with --unit) starts no server and runs only the tests that need
# none: every file but the *.integration.test.ts ones.
# Extra arguments go to node --test (e.g. `npm test -- --test-name-pattern=artifact`).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar

unit=false
if [ "${1:-}" = "--unit" ]; then
  unit=true
  shift
fi

files=()
if $unit; then
  [ -d node_modules ] || npm ci --no-audit --no-fund
  bash test/services/datasets.sh install
  for file in test/**/*.test.ts; do
    [[ $file == *.integration.test.ts ]] || files+=("$file")
  done
else
  # shellcheck source=test/services/all.sh
  source test/services/all.sh
  services_up
  files=(test/**/*.test.ts)
fi

echo "test/run.sh: checking types, format and lint" >&2
npm run -s check

echo "test/run.sh: running ${#files[@]} test files" >&2
node --import tsx --test --test-concurrency=2 --test-reporter=spec "$@" "${files[@]}"
