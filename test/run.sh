#!/usr/bin/env bash
# `npm test`: everything a fresh machine needs to pass the whole suite, then the suite.
#  1. installs what is missing: Debian's postgresql and Ceph (RADOS Gateway), the npm packages (npm ci);
#  2. starts a PostgreSQL server and a Ceph RGW (real S3) on 127.0.0.1, in a temp dir;
#  3. type-checks, then runs every test/*.test.ts with node's test runner against them;
#  4. stops the servers, whatever happened.
# Extra arguments go to node --test (e.g. `npm test -- --test-name-pattern=artifact`).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "test/run.sh: $*" >&2; }

log "installing what is missing"
bash test/services/postgres.sh install
bash test/services/ceph-rgw.sh install
# npm ci when node_modules is absent or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

state=$(mktemp -d /tmp/marketplace-test.XXXXXX)
chmod 755 "$state"
cleanup() {
  bash test/services/ceph-rgw.sh stop "$state/rgw" || true
  bash test/services/postgres.sh stop "$state/pg" || true
  rm -rf "$state"
}
trap cleanup EXIT

log "starting PostgreSQL and Ceph RGW on 127.0.0.1"
bash test/services/postgres.sh start "$state/pg" &
pg_pid=$!
bash test/services/ceph-rgw.sh start "$state/rgw"
wait "$pg_pid"

# shellcheck disable=SC1091
source "$state/pg/env"
# The S3 server's address and keys reach the tests under TEST_ names, so that no test picks up an
# S3 endpoint by accident through the product's own configuration.
# shellcheck disable=SC1091
source "$state/rgw/env"
export TEST_S3_ENDPOINT="$S3_ENDPOINT" TEST_AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" TEST_AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
unset S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export TEST_STATE_DIR="$state"
# The AWS SDK warns on every process that Node 20 support ends in 2027; known, and noise in test output.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

log "type-checking"
npx tsc --noEmit

log "running the tests"
node --import tsx --test --test-concurrency=2 --test-reporter=spec "$@" test/*.test.ts
