#!/usr/bin/env bash
# Start-up cost of every command: wall time and peak memory of `<command> --help`, the median of
# three runs (by wall time), through the same tsx loader npm uses. CPU seconds are the fairer figure
# on a busy machine. Usage: scripts/measure-help.sh [repo-root]
# (run it on two checkouts in one go to compare them on the same load).
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root"
entries=$(node -e '
  const s = require("./package.json").scripts;
  for (const [name, cmd] of Object.entries(s)) {
    const m = /^tsx (\S+\.ts)$/.exec(cmd);
    if (m) console.log(name + " " + m[1]);
  }')
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%-20s %8s %8s %8s\n' command wall_s cpu_s peak_MB
while read -r name file; do
  runs=()
  for _ in 1 2 3; do
    /usr/bin/time -o "$tmp" -f '%e %U %S %M' node --import tsx "$file" --help >/dev/null 2>&1
    runs+=("$(tail -1 "$tmp")")
  done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p | awk -v n="$name" '{ printf "%-20s %8.2f %8.2f %8.0f\n", n, $1, $2 + $3, $4 / 1024 }'
done <<<"$entries"
