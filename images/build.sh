#!/usr/bin/env bash
# Builds and tags the images (`npm run images`), with podman or docker, from the repository root:
#
#   image      template                     what it runs
#   load       images/node.Dockerfile       node /app/dist/components/load/main.js
#   clean      images/node.Dockerfile       … clean (and `clean snapshot`)
#   drift      images/node.Dockerfile       … drift
#   deploy     images/node.Dockerfile       … deploy (and `deploy production-model`, `deploy record-run`)
#   evaluate   images/faiss.Dockerfile      … evaluate
#   index      images/faiss.Dockerfile      … index
#   serve      images/faiss.Dockerfile      … serve (the search service)
#   train      images/train.Dockerfile      … train, GPU flavour (CUDA base, tfjs-node-gpu)
#   train-cpu  images/train.Dockerfile      … train, CPU flavour (TF.js on wasm), tagged <tag>-cpu
#
#   images/build.sh [--engine E] [--registry R] [--tag T] [--offline] [--push] [--dry-run]
#                   [--ca-bundle FILE | --no-ca-bundle] [--list] [name …] [-- build options …]
#
#   --engine E        podman or docker (default $CONTAINER_ENGINE, else podman when installed, else docker)
#   --registry R      image registry and path, e.g. 123456789012.dkr.ecr.eu-west-2.amazonaws.com
#                     (default $REGISTRY; empty: local names only)
#   --tag T           image tag (default $TAG, else the git commit, with -dirty for uncommitted changes).
#                     `latest` is refused: a pipeline must name the exact image it ran.
#   --offline         no image registry: make the Debian and Node bases here (images/bases.sh: debootstrap
#                     from the Debian mirror, the Node that runs this script) and build on them; the GPU
#                     train image is left out (its CUDA base and libtensorflow come from the internet)
#   --ca-bundle FILE  certificate authorities npm trusts during the build (a proxy that re-signs TLS):
#                     passed as a build secret, mounted for the npm commands only, never in a layer.
#                     Default: $BUILD_CA_BUNDLE, else $NODE_EXTRA_CA_CERTS, else the system bundle when
#                     it exists. --no-ca-bundle passes none.
#   --push            push each image after building it
#   --dry-run         print the commands instead of running them
#   --list            print the images (name, template, image reference) and exit
# Prints the images it built on stdout, one a line; the engine's output goes to stderr.
#   name …            only these images (default: all; with --offline all but train)
#   -- options …      passed to `<engine> build` as they are (e.g. -- --no-cache, -- --pull=never)
# Base images: images/bases.env (NODE_IMAGE, CUDA_IMAGE; the environment overrides them).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=images/engine.sh
source "$here/engine.sh"

registry="${REGISTRY:-}"
tag="${TAG:-}"
push=false
dry_run=false
offline=false
list=false
ca_bundle="${BUILD_CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-}}"
[ -z "$ca_bundle" ] && [ -f /etc/ssl/certs/ca-certificates.crt ] && ca_bundle=/etc/ssl/certs/ca-certificates.crt
names=()
passthrough=()

while [ $# -gt 0 ]; do
  case "$1" in
    --engine) export CONTAINER_ENGINE="${2:?--engine needs podman or docker}"; shift 2 ;;
    --registry) registry="${2:?--registry needs a value}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --push) push=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    --offline) offline=true; shift ;;
    --list) list=true; shift ;;
    --ca-bundle) ca_bundle="${2:?--ca-bundle needs a file}"; shift 2 ;;
    --no-ca-bundle) ca_bundle=""; shift ;;
    --) shift; passthrough=("$@"); break ;;
    -h|--help) sed -n '2,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done

ALL=(load clean drift deploy evaluate index serve train train-cpu)
template_of() {
  case "$1" in
    load|clean|drift|deploy) echo node ;;
    evaluate|index|serve) echo faiss ;;
    train|train-cpu) echo train ;;
    *) return 1 ;;
  esac
}

if [ -z "$tag" ]; then
  tag="$(git -C "$root" rev-parse --short=12 HEAD)"
  if [ -n "$(git -C "$root" status --porcelain -- components pipelines scripts images package.json package-lock.json .npmrc .dockerignore tsconfig.json tsconfig.build.json)" ]; then tag="$tag-dirty"; fi
fi
if [ "$tag" = latest ]; then
  echo "build.sh: refusing the tag 'latest': tag images with a version or a commit so every run names what it ran" >&2
  exit 2
fi
if ! [[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,123}$ ]]; then
  echo "build.sh: '$tag' is not a valid image tag" >&2
  exit 2
fi
if $push && [ -z "$registry" ]; then
  echo "build.sh: --push needs --registry (or REGISTRY)" >&2
  exit 2
fi
if [ ${#names[@]} -eq 0 ]; then
  for name in "${ALL[@]}"; do
    if $offline && [ "$name" = train ]; then continue; fi
    names+=("$name")
  done
fi
for name in "${names[@]}"; do
  template_of "$name" >/dev/null || { echo "build.sh: no image '$name' (images: ${ALL[*]})" >&2; exit 2; }
  if $offline && [ "$name" = train ]; then
    echo "build.sh: the GPU train image cannot be built offline (its CUDA base and tfjs-node-gpu's libtensorflow come from the internet); build train-cpu here, train where those registries are reachable" >&2
    exit 2
  fi
done

reference() {
  local name="$1" image
  if [ "$name" = train-cpu ]; then image="marketplace-train:$tag-cpu"; else image="marketplace-$name:$tag"; fi
  [ -n "$registry" ] && image="${registry%/}/$image"
  echo "$image"
}

if $list; then
  for name in "${names[@]}"; do printf '%s\t%s\t%s\n' "$name" "images/$(template_of "$name").Dockerfile" "$(reference "$name")"; done
  exit 0
fi

# The base images: images/bases.env, unless the environment names them.
env_node="${NODE_IMAGE:-}"
env_cuda="${CUDA_IMAGE:-}"
# shellcheck source=images/bases.env
source "$here/bases.env"
NODE_IMAGE="${env_node:-$NODE_IMAGE}"
CUDA_IMAGE="${env_cuda:-$CUDA_IMAGE}"

if $dry_run; then
  ENGINE="${CONTAINER_ENGINE:-podman}"
  $offline && NODE_IMAGE="localhost/marketplace/node:$(node --version | sed 's/^v//')-bookworm"
else
  engine_pick
  if $offline; then
    made="$(bash "$here/bases.sh")"
    NODE_IMAGE="$(sed -n 's/^NODE_IMAGE=//p' <<<"$made")"
    [ -n "$NODE_IMAGE" ] || { echo "build.sh: images/bases.sh made no node base" >&2; exit 1; }
    conf="$(sed -n 's/^CONTAINERS_CONF=//p' <<<"$made")"
    [ -n "$conf" ] && export CONTAINERS_CONF="$conf"
  fi
  if "$ENGINE" image inspect "$NODE_IMAGE" >/dev/null 2>&1; then engine_ready "$NODE_IMAGE"; fi
fi

engine_args=()
if [ "$ENGINE" = podman ]; then
  # The build's own RUN steps need the network (Debian's mirror, the npm registry); containers.conf
  # gives containers none by default. --layers keeps every step in the cache for the next build.
  engine_args+=(--network=host --layers)
fi
if [ -n "$ca_bundle" ]; then
  if [ ! -s "$ca_bundle" ]; then echo "build.sh: --ca-bundle $ca_bundle is not a readable file" >&2; exit 2; fi
  engine_args+=(--secret "id=npm_ca,src=$ca_bundle")
fi

exec 3>&1
run() {
  if $dry_run; then echo "$*" >&3; else "$@"; fi
}

built=()
for name in "${names[@]}"; do
  template="$(template_of "$name")"
  image="$(reference "$name")"
  args=(--file "$here/$template.Dockerfile" --tag "$image" --build-arg "NODE_IMAGE=$NODE_IMAGE"
        --label "org.opencontainers.image.revision=$tag")
  case "$name" in
    train) args+=(--build-arg "TRAIN_BASE=$CUDA_IMAGE" --build-arg "TFJS_NATIVE=@tensorflow/tfjs-node-gpu") ;;
    train-cpu) args+=(--build-arg "TRAIN_BASE=$NODE_IMAGE" --build-arg "TFJS_NATIVE=") ;;
    *) args+=(--build-arg "COMPONENT=$name") ;;
  esac
  echo "build.sh: $image from images/$template.Dockerfile ($ENGINE)" >&2
  started=$(date +%s)
  # The engine's own output goes to stderr: stdout is the list of images built.
  if [ "$ENGINE" = docker ]; then
    run env DOCKER_BUILDKIT=1 docker build "${engine_args[@]}" "${args[@]}" "${passthrough[@]}" "$root" >&2
  else
    run podman build "${engine_args[@]}" "${args[@]}" "${passthrough[@]}" "$root" >&2
  fi
  if ! $dry_run; then
    size="$("$ENGINE" image inspect --format '{{.Size}}' "$image")"
    echo "build.sh: $image: $(( size / 1000000 )) MB, built in $(( $(date +%s) - started )) s" >&2
  fi
  built+=("$image")
  if $push; then run "$ENGINE" push "$image"; fi
done
$dry_run || printf '%s\n' "${built[@]}"
