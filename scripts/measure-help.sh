#!/usr/bin/env bash
# Start-up cost of every command: wall time, CPU time and peak memory of `<command> --help`, the median
# of three runs (by CPU time), through the tsx loader npm uses. Given two checkouts, it measures each
# command in both, interleaved, so that both see the same load (CPU seconds are the fairer figure on a
# busy machine). Usage: scripts/measure-help.sh [before-root] [after-root]
set -uo pipefail
after="${2:-$(cd "$(dirname "$0")/.." && pwd)}"
before="${1:-}"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# `npm run <name>` scripts that are `tsx <file>.ts`, in the checkout $1.
entries() {
  (cd "$1" && node -e '
    const s = require("./package.json").scripts;
    for (const [name, cmd] of Object.entries(s)) {
      const m = /^tsx (\S+\.ts)$/.exec(cmd);
      if (m) console.log(name + " " + m[1]);
    }')
}

# Median of three `--help` runs of $2 in checkout $1: "wall cpu MB", or "failed".
measure() {
  local runs=()
  for _ in 1 2 3; do
    if ! (cd "$1" && /usr/bin/time -o "$tmp" -f '%e %U %S %M' node --import tsx "$2" --help >/dev/null 2>&1); then
      echo failed
      return
    fi
    runs+=("$(tail -1 "$tmp" | awk '{ printf "%.2f %.2f %.0f", $1, $2 + $3, $4 / 1024 }')")
  done
  printf '%s\n' "${runs[@]}" | sort -k2 -n | sed -n 2p
}

printf '%-20s %-22s %-22s\n' command "before: wall cpu MB" "after: wall cpu MB"
while read -r name file; do
  old=-
  if [ -n "$before" ]; then
    old_file=$(entries "$before" | awk -v n="$name" '$1 == n { print $2 }')
    [ -n "$old_file" ] && old=$(measure "$before" "$old_file")
  fi
  printf '%-20s %-22s %-22s\n' "$name" "$old" "$(measure "$after" "$file")"
done < <(entries "$after")
