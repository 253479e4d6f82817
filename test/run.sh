#!/usr/bin/env bash
# `npm test`: everything a fresh machine needs to pass the whole suite, then the suite.
#  1. installs what is missing: Debian's postgresql, Ceph (RADOS Gateway) and Chromium (for the page's browser tests), the npm packages (npm ci);
#  2. starts a PostgreSQL server and a Ceph RGW (real S3) on 127.0.0.1, in a temp dir;
#  3. type-checks, then runs every test/*.test.ts with node's test runner against them;
#  4. stops the servers, whatever happened.
# Extra arguments go to node --test (e.g. `npm test -- --test-name-pattern=artifact`).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=test/services/all.sh
source test/services/all.sh
services_up

echo "test/run.sh: type-checking" >&2
npx tsc --noEmit
# The search page's plain ES modules (JSDoc types, DOM library): their own checker settings.
npx tsc -p components/serve/web

echo "test/run.sh: running the tests" >&2
node --import tsx --test --test-concurrency=2 --test-reporter=spec "$@" test/*.test.ts
