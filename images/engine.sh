# Sourced by images/build.sh and images/bases.sh: picks the container engine and makes it work here.
#
#   engine_pick      sets ENGINE to $CONTAINER_ENGINE (podman or docker), else podman when it is
#                    installed, else docker; fails with a message when there is neither.
#   engine_ready     podman only: when CONTAINERS_CONF is unset and a trivial container does not run
#                    with the engine's defaults, exports CONTAINERS_CONF=images/containers.conf (the
#                    settings restricted hosts need; see that file) and checks again. Needs an image to
#                    try: the first argument (an image made by images/bases.sh).
#
# Nothing here installs anything: test/services/podman.sh installs podman on a fresh Debian machine.

engine_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

engine_pick() {
  ENGINE="${CONTAINER_ENGINE:-}"
  if [ -z "$ENGINE" ]; then
    if command -v podman >/dev/null 2>&1; then ENGINE=podman
    elif command -v docker >/dev/null 2>&1; then ENGINE=docker
    else
      echo "images: no container engine: install podman (test/services/podman.sh install) or docker, or set CONTAINER_ENGINE" >&2
      return 1
    fi
  fi
  case "$ENGINE" in
    podman|docker) ;;
    *) echo "images: CONTAINER_ENGINE must be podman or docker, not '$ENGINE'" >&2; return 1 ;;
  esac
  if ! command -v "$ENGINE" >/dev/null 2>&1; then
    echo "images: CONTAINER_ENGINE=$ENGINE but $ENGINE is not installed" >&2
    return 1
  fi
  export CONTAINER_ENGINE="$ENGINE"
}

# Runs `true` in the image with no network, read-only, as uid 1000: what every pipeline task needs.
engine_try() {
  "$ENGINE" run --rm --network=none --read-only --user 1000:1000 "$1" true >/dev/null 2>"${2:-/dev/null}"
}

engine_ready() {
  local image="${1:?engine_ready needs an image to try}"
  [ "$ENGINE" = podman ] || return 0
  [ -n "${CONTAINERS_CONF:-}" ] && return 0
  local err
  err="$(mktemp)"
  if engine_try "$image" "$err"; then rm -f "$err"; return 0; fi
  export CONTAINERS_CONF="$engine_dir/containers.conf"
  if engine_try "$image" "$err.2"; then
    echo "images: podman's defaults fail here ($(tail -n 1 "$err" | cut -c1-160)); using CONTAINERS_CONF=$CONTAINERS_CONF" >&2
    rm -f "$err" "$err.2"
    return 0
  fi
  echo "images: podman cannot run a container here, with its defaults or with $CONTAINERS_CONF:" >&2
  cat "$err" "$err.2" >&2
  rm -f "$err" "$err.2"
  return 1
}
