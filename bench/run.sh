#!/usr/bin/env bash
# `npm run bench`: the benchmarks, against the same real servers the tests use (started here, stopped
# after). Figures are ratios against a baseline measured in the same run.
# Arguments go to each benchmark, e.g. `npm run bench -- --data ../shared/data --repeat 5`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=test/services/all.sh
source test/services/all.sh
services_up
# The clean benchmark's baseline is the seed's own stack: pandas (Debian's python3-pandas).
if ! /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pandas >/dev/null
fi

for bench in bench/*.bench.ts; do
  node --import tsx "$bench" "$@"
done
