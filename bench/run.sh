#!/usr/bin/env bash
# `npm run bench`: the benchmarks, against the same real servers the tests use (started here, stopped
# after). Figures are ratios against a baseline measured in the same run.
# Arguments go to each benchmark, e.g. `npm run bench -- --data ../shared/data --repeat 5`, or
# `npm run bench -- --quick`: every benchmark on a sample. The report: bench/report/report.md and .html.
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
# The search service's baselines: FastAPI + uvicorn + faiss (bench/serve_baseline.py) and python3-faiss
# against faiss-node (bench/faiss_search.py). Debian has no onnxruntime for Python, so the service
# baseline serves "similar products" from the stored vectors rather than embedding text queries.
for module_package in fastapi:python3-fastapi uvicorn:python3-uvicorn faiss:python3-faiss; do
  if ! /usr/bin/python3 -c "import ${module_package%%:*}" 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${module_package#*:}" >/dev/null \
      || echo "bench: could not install ${module_package#*:}; its baseline will report not available" >&2
  fi
done

# Each benchmark prints its table, then one JSON line last; the JSON lines go into one file, which
# bench/report.ts turns into bench/report/report.md and report.html. A benchmark that fails does not
# stop the others: the report lists it as not measured. `--quick` goes to every benchmark (a sample).
report_dir=bench/report
mkdir -p "$report_dir"
results="$report_dir/results.jsonl"
durations="$report_dir/durations.jsonl"
: >"$results"
: >"$durations"
quick=()
for arg in "$@"; do
  if [ "$arg" = --quick ]; then quick=(--quick); fi
done
# `npm run bench -- --scale 100000,1000000`: the scale curve only (bench/scale/curve.ts): a synthetic
# catalogue of each size, each step against its baseline in the same run, and the projection to 10^7-10^8.
for arg in "$@"; do
  if [ "$arg" = --scale ] || [[ "$arg" == --scale=* ]]; then
    node --import tsx bench/scale/curve.ts "$@" | tee "$report_dir/scale.out"
    exit "${PIPESTATUS[0]}"
  fi
done
for bench in bench/*.bench.ts; do
  name=$(basename "$bench" .bench.ts)
  echo "bench: $name" >&2
  started=$SECONDS
  set +e
  node --import tsx "$bench" "$@" | tee "$report_dir/$name.out"
  status=${PIPESTATUS[0]}
  set -e
  printf '{"benchmark":"%s","seconds":%s}\n' "$name" "$((SECONDS - started))" >>"$durations"
  line=$(grep -E '^\{.*\}$' "$report_dir/$name.out" | tail -n 1 || true)
  if [ "$status" -eq 0 ] && [ -n "$line" ]; then
    printf '%s\n' "$line" >>"$results"
  else
    printf '{"benchmark":"%s","failed":true,"exitCode":%s}\n' "$name" "$status" >>"$results"
  fi
done
# The whole run's wall time, services included, goes into the report beside each benchmark's.
printf '{"benchmark":"(whole run, servers included)","seconds":%s}\n' "$SECONDS" >>"$durations"
node --import tsx bench/report.ts "$results" --out "$report_dir" --durations "$durations" ${quick[@]+"${quick[@]}"}
