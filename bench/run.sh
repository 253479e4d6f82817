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
# The training baselines: scikit-learn for the accuracy floor (bench/train_floor.py), PyTorch for the
# training throughput (bench/train_torch.py). python3-torch is large (about 135 MB to download, 540 MiB
# installed with its dependencies, no recommends); where it cannot be installed, the scripts print
# {"available": false} and exit 69, and the bench reports the baseline as not available.
for module_package in sklearn:python3-sklearn torch:python3-torch; do
  if ! /usr/bin/python3 -c "import ${module_package%%:*}" 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${module_package#*:}" >/dev/null \
      || echo "bench: could not install ${module_package#*:}; its baseline will report not available" >&2
  fi
done

for bench in bench/*.bench.ts; do
  node --import tsx "$bench" "$@"
done
