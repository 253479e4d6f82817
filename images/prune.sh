#!/usr/bin/env bash
# Removes the component images of older builds, and the build stages they left, so that a machine that
# builds every commit (CI runs `images/build.sh` once per commit: about 10 GB of images and builder
# stages a build) does not fill its disk. Ceph's monitor refuses to start below 5 % free space, so a
# full disk fails the whole suite, not just the image test.
#
#   images/prune.sh [--keep N] [--dry-run]
#
#   --keep N    keep the images of the N most recent builds (default 1). A build is the set of images
#               labelled with one org.opencontainers.image.revision; the most recent is the one with
#               the newest image.
#   --dry-run   print what would be removed, remove nothing
#
# What it removes:
#   - images labelled io.marketplace.component (what images/build.sh makes) of any other revision;
#   - untagged images (builder stages, superseded layers) created more than 15 minutes before the oldest
#     kept build began. The kept build's own stages stay: they are the next build's layer cache (npm ci
#     and the faiss build are only redone when their inputs change).
# What it never touches: the bases images/bases.sh makes (localhost/marketplace/node, …/debian), any
# image without the component label, an image a container still uses (the engine refuses; reported).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=images/engine.sh
source "$here/engine.sh"

keep=1
dry_run=false
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep="${2:?--keep needs a number}"; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "prune.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
  echo "prune.sh: --keep must be a whole number of builds, at least 1, not '$keep'" >&2
  exit 2
fi

engine_pick

# One line an image: created (unix seconds), id, revision label or '-', dangling (true/false), names.
# Node reads the engine's JSON (podman and docker name the fields differently: both are handled).
listing="$("$ENGINE" images --format json | node -e '
  const images = JSON.parse(require("fs").readFileSync(0, "utf8") || "[]");
  for (const image of images) {
    const labels = image.Labels ?? {};
    const names = image.Names ?? image.RepoTags ?? [];
    const created = typeof image.Created === "number" ? image.Created : Math.floor(Date.parse(image.CreatedAt) / 1000);
    const component = labels["io.marketplace.component"] !== undefined;
    const revision = component ? labels["org.opencontainers.image.revision"] ?? "-" : "-";
    console.log([created, image.Id ?? image.ID, revision, names.length === 0, names.join(",") || "-"].join(" "));
  }
')"

# The revisions, newest first, by the newest image of each; the kept ones and when the oldest kept began.
mapfile -t revisions < <(awk '$3 != "-" { if (!($3 in newest) || $1 > newest[$3]) newest[$3] = $1 }
  END { for (r in newest) print newest[r], r }' <<<"$listing" | sort -rn | awk '{ print $2 }')
if [ ${#revisions[@]} -eq 0 ]; then
  echo "prune.sh: no component images: nothing to prune" >&2
  exit 0
fi
kept=("${revisions[@]:0:$keep}")
kept_pattern=" $(IFS=' '; echo "${kept[*]}") "
began="$(awk -v kept="$kept_pattern" 'index(kept, " " $3 " ") { if (first == "" || $1 < first) first = $1 } END { print first }' <<<"$listing")"
cutoff=$((began - 900))

stale=()
while read -r created id revision dangling names; do
  if [ "$revision" != "-" ] && [[ "$kept_pattern" != *" $revision "* ]]; then
    # By name, so that an image shared by two tags loses only the stale tag.
    IFS=',' read -ra tagged <<<"$names"
    for name in "${tagged[@]}"; do [ "$name" != "-" ] && stale+=("$name"); done
  elif [ "$dangling" = true ] && [ "$created" -lt "$cutoff" ]; then
    stale+=("$id")
  fi
done <<<"$listing"

echo "prune.sh: keeping build(s) ${kept[*]}; ${#stale[@]} stale image(s)" >&2
[ ${#stale[@]} -eq 0 ] && exit 0
if $dry_run; then
  printf '%s\n' "${stale[@]}"
  exit 0
fi
failed=0
for image in "${stale[@]}"; do
  # One at a time: an image in use (or already gone with its tag) must not stop the others going.
  if ! "$ENGINE" rmi "$image" >/dev/null 2>&1; then
    failed=$((failed + 1))
  fi
done
# Untagged images that removing the tags above orphaned (their builder stages are older than the cutoff).
"$ENGINE" image prune --force --filter "until=$(date -u -d "@$cutoff" +%Y-%m-%dT%H:%M:%SZ)" >/dev/null 2>&1 || true
echo "prune.sh: removed $(( ${#stale[@]} - failed )) of ${#stale[@]}; $failed in use or already gone" >&2
