#!/usr/bin/env bash
# Fetches Debian's arm64 cloud kernel for the Linux boot benchmark into
# bench/out/linux/Image (bench/out is not committed; the Image is 26 MB).
# Then:
#   WARMBOOT_LINUX_IMAGE=bench/out/linux/Image node dist/bench/run-benchmarks.js --only=linux
# Needs a Debian (or derived) host with apt; adds arm64 as a foreign
# architecture so that apt can see the package.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq

# The metapackage follows Debian's current ABI; the versioned package it
# depends on is the one that holds the kernel.
pkg=$(apt-cache depends linux-image-cloud-arm64:arm64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
if [ -z "$pkg" ]; then
  echo "fetch-linux-kernel: linux-image-cloud-arm64:arm64 depends on no linux-image-<version> package" >&2
  exit 1
fi

out=out/linux
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
# Run as root, apt-get download fetches as the _apt user, which needs to be
# able to write where it downloads.
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
(cd "$work" && apt-get download -q "$pkg")
dpkg -x "$work"/*.deb "$work/root"

# On arm64 Debian installs the kernel uncompressed: vmlinuz is an Image.
images=("$work"/root/boot/vmlinuz-*)
if [ ! -f "${images[0]}" ]; then
  echo "fetch-linux-kernel: $pkg holds no boot/vmlinuz-*" >&2
  exit 1
fi
if [ "$(dd if="${images[0]}" bs=1 skip=56 count=4 2>/dev/null)" != ARMd ]; then
  echo "fetch-linux-kernel: ${images[0]##*/} has no arm64 Image magic (ARMd at 0x38)" >&2
  exit 1
fi
cp "${images[0]}" "$out/Image"
echo "${images[0]##*/}" > "$out/VERSION"
echo "$(pwd)/$out/Image: ${images[0]##*/} from $pkg"
echo "export WARMBOOT_LINUX_IMAGE=$(pwd)/$out/Image"
