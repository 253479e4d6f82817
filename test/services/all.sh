# Sourced by test/run.sh and bench/run.sh: installs what is missing and starts the real servers.
#   services_up   installs Debian's PostgreSQL, Ceph, faiss, Chromium, podman and Fashion-MNIST if missing, runs `npm ci` when node_modules
#                 is absent or older than the lock file, starts PostgreSQL and Ceph RGW on 127.0.0.1
#                 in a temp dir (stopped on exit), and exports TEST_DATABASE_URL, TEST_S3_ENDPOINT,
#                 TEST_AWS_ACCESS_KEY_ID and TEST_AWS_SECRET_ACCESS_KEY.
# The S3 server's address and keys reach the tests under TEST_ names only, so that no test picks up
# an S3 endpoint by accident through the product's own configuration.

services_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

services_up() {
  echo "services: installing what is missing" >&2
  bash "$services_dir/postgres.sh" install
  bash "$services_dir/ceph-rgw.sh" install
  bash "$services_dir/chromium.sh" install
  bash "$services_dir/datasets.sh" install
  # podman, buildah, runc and debootstrap: test/containers.test.ts builds the images offline and runs the pipeline in them.
  bash "$services_dir/podman.sh" install
  # Every run builds the images of its commit (~10 GB with their stages): drop older builds' before the
  # servers start, since Ceph's monitor will not start on a disk under 5 % free.
  bash "$services_dir/../../images/prune.sh" || echo "services: images/prune.sh failed; going on" >&2
  # faiss-node is built against Debian's faiss (scripts/build-faiss.mjs): the headers must be there
  # before npm ci runs the project's postinstall.
  if [ ! -f /usr/include/faiss/Index.h ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfaiss-dev libopenblas0-pthread >/dev/null
  fi
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
  node scripts/build-faiss.mjs --require

  services_state=$(mktemp -d /tmp/marketplace-services.XXXXXX)
  chmod 755 "$services_state"
  trap services_down EXIT

  echo "services: starting PostgreSQL and Ceph RGW on 127.0.0.1" >&2
  bash "$services_dir/postgres.sh" start "$services_state/pg" &
  local pg_pid=$!
  bash "$services_dir/ceph-rgw.sh" start "$services_state/rgw"
  wait "$pg_pid"

  # shellcheck disable=SC1091
  source "$services_state/pg/env"
  # shellcheck disable=SC1091
  source "$services_state/rgw/env"
  export TEST_S3_ENDPOINT="$S3_ENDPOINT" TEST_AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" TEST_AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
  unset S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  # The AWS SDK warns in every process that its Node 20 support ends in 2027: known, and noise here.
  export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
}

services_down() {
  bash "$services_dir/ceph-rgw.sh" stop "$services_state/rgw" || true
  bash "$services_dir/postgres.sh" stop "$services_state/pg" || true
  rm -rf "$services_state"
}
