#!/usr/bin/env bash
# podman for the container tests and `npm start -- --containers`: Debian's podman 4.3 with buildah,
# runc and debootstrap (the offline bases), as /work/shared/RECIPES.md ("Containers with podman,
# offline") installs them. images/engine.sh decides, by running a container, whether podman's defaults
# work here or images/containers.conf is needed.
#
#   test/services/podman.sh install   apt-get the packages if podman, runc or debootstrap is missing (root)
#   test/services/podman.sh check     exit 0 when podman, runc and debootstrap are on PATH
set -euo pipefail

readonly PACKAGES=(podman buildah runc fuse-overlayfs slirp4netns uidmap debootstrap containernetworking-plugins
  golang-github-containers-common catatonit iptables netavark aardvark-dns)

have_all() {
  command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 &&
    [ -x /usr/libexec/podman/catatonit ]
}

case "${1:-}" in
  install)
    have_all && exit 0
    if [ "$(id -u)" != 0 ]; then
      echo "podman.sh: installing podman needs root (apt-get install ${PACKAGES[*]})" >&2
      exit 1
    fi
    echo "podman.sh: installing podman, buildah, runc, debootstrap (Debian packages)" >&2
    started=$(date +%s)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
    echo "podman.sh: installed in $(( $(date +%s) - started )) s ($(podman --version))" >&2
    ;;
  check)
    have_all
    ;;
  *)
    echo "usage: $0 install | check" >&2
    exit 2
    ;;
esac
