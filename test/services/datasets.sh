#!/usr/bin/env bash
# Debian's Fashion-MNIST (dataset-fashion-mnist, 30 MB, MIT): the real product pictures the picture
# tests read (test/load/fashion-mnist.test.ts, test/train/picture-cnn.test.ts).
#   datasets.sh install   apt-get dataset-fashion-mnist when /usr/share/datasets/fashion-mnist is missing
set -euo pipefail

case "${1:-}" in
  install)
    if [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then exit 0; fi
    echo "installing dataset-fashion-mnist (Debian package) for the picture tests…" >&2
    sudo=()
    if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 dataset-fashion-mnist >/dev/null
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
