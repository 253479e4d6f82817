#!/usr/bin/env bash
# Makes the base images offline, with no image registry: what `images/build.sh --offline` builds on.
#
#   images/bases.sh [--mirror URL] [--rebuild]
#
#  1. localhost/marketplace/debian:bookworm: Debian bookworm minbase made by debootstrap from the
#     Debian mirror apt is configured with (or --mirror / $DEBIAN_MIRROR), without docs, man pages,
#     locales or apt lists, and with the dpkg excludes that keep later installs as slim.
#  2. localhost/marketplace/node:<version>-bookworm: that Debian with the Node that runs this script
#     (node, npm, corepack, headers) laid out under /usr/local as the official node image has it,
#     Debian's ca-certificates, and the user node (1000:1000).
# Prints NODE_IMAGE=<ref> on stdout (the value build.sh passes as --build-arg NODE_IMAGE), and
# CONTAINERS_CONF=<file> when podman needs images/containers.conf here. An image that
# already exists is kept unless --rebuild. Needs root (debootstrap) and the engine of images/engine.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=images/engine.sh
source "$here/engine.sh"

mirror="${DEBIAN_MIRROR:-}"
rebuild=false
suite=bookworm
while [ $# -gt 0 ]; do
  case "$1" in
    --mirror) mirror="${2:?--mirror needs a URL}"; shift 2 ;;
    --rebuild) rebuild=true; shift ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bases.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

engine_pick

# The mirror apt already uses here (deb822 sources first, then sources.list), else Debian's CDN.
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^URIs:[[:space:]]*\(\S*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true)"
fi
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\(\S*\/debian\)\/\{0,1\}[[:space:]]\+.*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

work="$(mktemp -d /tmp/marketplace-bases.XXXXXX)"
trap 'rm -rf "$work"' EXIT

debian_image="localhost/marketplace/debian:$suite"
if $rebuild || ! exists "$debian_image"; then
  command -v debootstrap >/dev/null 2>&1 || { echo "bases.sh: debootstrap is not installed (test/services/podman.sh install)" >&2; exit 1; }
  echo "bases.sh: $debian_image by debootstrap --variant=minbase $suite from $mirror" >&2
  started=$(date +%s)
  rootfs="$work/rootfs"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; echo "bases.sh: debootstrap failed" >&2; exit 1; }
  {
    echo "deb $mirror $suite main"
    echo "deb $mirror $suite-updates main"
    case "$mirror" in */debian) echo "deb ${mirror}-security $suite-security main" ;; esac
  } >"$rootfs/etc/apt/sources.list"
  # As Debian's own container images: no docs, man pages or locales from later installs either.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  # and, as they do, no package caches left in a layer by apt-get (pkgcache.bin alone is ~40 MB).
  cat >"$rootfs/etc/apt/apt.conf.d/99slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/* "$rootfs"/tmp/* \
    "$rootfs"/var/cache/ldconfig/aux-cache "$rootfs"/var/lib/dpkg/*-old
  tar --numeric-owner -C "$rootfs" -c . | "$ENGINE" import --quiet --change 'CMD ["bash"]' - "$debian_image" >/dev/null
  echo "bases.sh: $debian_image in $(( $(date +%s) - started )) s" >&2
fi

engine_ready "$debian_image"

node_bin="$(readlink -f "$(command -v node)")"
node_version="$("$node_bin" --version | sed 's/^v//')"
node_image="localhost/marketplace/node:$node_version-$suite"
if $rebuild || ! exists "$node_image"; then
  prefix="$(cd "$(dirname "$node_bin")/.." && pwd)"
  echo "bases.sh: $node_image from $node_bin ($prefix)" >&2
  started=$(date +%s)
  ctx="$work/node"
  mkdir -p "$ctx/usr/local/bin" "$ctx/usr/local/lib/node_modules" "$ctx/usr/local/include"
  cp "$node_bin" "$ctx/usr/local/bin/node"
  for module in npm corepack; do
    [ -d "$prefix/lib/node_modules/$module" ] && cp -a "$prefix/lib/node_modules/$module" "$ctx/usr/local/lib/node_modules/"
  done
  [ -d "$ctx/usr/local/lib/node_modules/npm" ] || { echo "bases.sh: no npm beside $node_bin" >&2; exit 1; }
  [ -d "$prefix/include/node" ] && cp -a "$prefix/include/node" "$ctx/usr/local/include/node"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr/local/bin/npx"
  [ -d "$ctx/usr/local/lib/node_modules/corepack" ] && ln -s ../lib/node_modules/corepack/dist/corepack.js "$ctx/usr/local/bin/corepack"
  cat >"$ctx/Containerfile" <<EOF
FROM $debian_image
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* /var/log/* \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY usr/local /usr/local
RUN node --version && npm --version >/dev/null
ENV NODE_VERSION=$node_version
CMD ["node"]
EOF
  "$ENGINE" build --network=host --file "$ctx/Containerfile" --tag "$node_image" "$ctx" >"$work/node-build.log" 2>&1 ||
    { tail -n 30 "$work/node-build.log" >&2; echo "bases.sh: the node base did not build" >&2; exit 1; }
  echo "bases.sh: $node_image in $(( $(date +%s) - started )) s" >&2
fi

echo "NODE_IMAGE=$node_image"
[ -n "${CONTAINERS_CONF:-}" ] && echo "CONTAINERS_CONF=$CONTAINERS_CONF"
exit 0
