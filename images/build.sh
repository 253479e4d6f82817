#!/usr/bin/env bash
# Builds and tags every image in images/ (`npm run images`): images/<name>.Dockerfile becomes
# <registry>/marketplace-<name>:<tag>, built from the repository root.
#
#   images/build.sh [--registry R] [--tag T] [--push] [--dry-run] [name …]
#
#   --registry R  image registry and path, e.g. 123456789012.dkr.ecr.eu-west-2.amazonaws.com
#                 (default $REGISTRY; empty: local names only)
#   --tag T       image tag (default $TAG, else the git commit, with -dirty for uncommitted changes).
#                 `latest` is refused: a pipeline must name the exact image it ran.
#   --push        push each image after building it
#   --dry-run     print the docker commands instead of running them
#   name …        only these images (load clean drift train evaluate index deploy serve)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
registry="${REGISTRY:-}"
tag="${TAG:-}"
push=false
dry_run=false
names=()

while [ $# -gt 0 ]; do
  case "$1" in
    --registry) registry="${2:?--registry needs a value}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --push) push=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done

if [ -z "$tag" ]; then
  tag="$(git -C "$root" rev-parse --short=12 HEAD)"
  if [ -n "$(git -C "$root" status --porcelain -- components pipelines scripts images package.json package-lock.json)" ]; then tag="$tag-dirty"; fi
fi
if [ "$tag" = latest ]; then
  echo "build.sh: refusing the tag 'latest': tag images with a version or a commit so every run names what it ran" >&2
  exit 2
fi
if ! [[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "build.sh: '$tag' is not a valid image tag" >&2
  exit 2
fi
if $push && [ -z "$registry" ]; then
  echo "build.sh: --push needs --registry (or REGISTRY)" >&2
  exit 2
fi

if [ ${#names[@]} -eq 0 ]; then
  for file in "$here"/*.Dockerfile; do names+=("$(basename "$file" .Dockerfile)"); done
fi

run() {
  if $dry_run; then echo "$*"; else "$@"; fi
}

for name in "${names[@]}"; do
  file="$here/$name.Dockerfile"
  if [ ! -f "$file" ]; then echo "build.sh: no image '$name' (no $file)" >&2; exit 2; fi
  image="marketplace-$name:$tag"
  [ -n "$registry" ] && image="${registry%/}/$image"
  echo "build.sh: $image from images/$name.Dockerfile" >&2
  # BuildKit reads images/<name>.Dockerfile.dockerignore for the context (the repository root).
  run env DOCKER_BUILDKIT=1 docker build --file "$file" --tag "$image" --label "org.opencontainers.image.revision=$tag" "$root"
  if $push; then run docker push "$image"; fi
done
