#!/usr/bin/env bash
# `npm run bench`: the benchmarks, against the same real servers the tests use (started here, stopped
# after). Figures are ratios against a baseline measured in the same run.
# Arguments go to each benchmark, e.g. `npm run bench -- --data ../shared/data --repeat 5`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=test/services/all.sh
source test/services/all.sh
services_up

for bench in bench/*.bench.ts; do
  node --import tsx "$bench" "$@"
done
