#!/usr/bin/env bash
# `npm run bench`: the benchmarks, against the same real servers the tests use.
# Starts PostgreSQL and Ceph RGW on 127.0.0.1 (installing them if missing), runs bench/*.bench.ts,
# stops the servers. Figures are ratios against a baseline measured in the same run.
#   --data <dir>  the export to load (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/services/postgres.sh install
bash test/services/ceph-rgw.sh install
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

state=$(mktemp -d /tmp/marketplace-bench.XXXXXX)
chmod 755 "$state"
cleanup() {
  bash test/services/ceph-rgw.sh stop "$state/rgw" || true
  bash test/services/postgres.sh stop "$state/pg" || true
  rm -rf "$state"
}
trap cleanup EXIT

bash test/services/postgres.sh start "$state/pg"
bash test/services/ceph-rgw.sh start "$state/rgw"
# shellcheck disable=SC1091
source "$state/pg/env"
# shellcheck disable=SC1091
source "$state/rgw/env"
export TEST_S3_ENDPOINT="$S3_ENDPOINT" TEST_AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" TEST_AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
unset S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

for bench in bench/*.bench.ts; do
  node --import tsx "$bench" "$@"
done
