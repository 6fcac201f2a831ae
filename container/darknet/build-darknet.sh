#!/bin/sh
# Build pjreddie Darknet (upstream commit 61c9d02e, as packaged by Debian) without OpenCV,
# with OpenMP, -O3 and AVX2 on x86_64 (every x86_64 CPU Lambda runs on has it), and install the
# binary, libdarknet.so, the cfg files, coco.names, the label glyphs and the sample images.
# Runs inside the Dockerfile's build stage; apt uses the image's own configured mirror.
set -eu

prefix="${1:?usage: build-darknet.sh PREFIX}"
here="$(cd "$(dirname "$0")" && pwd)"
case "$(uname -m)" in
  x86_64) default_arch_flags="-march=haswell -mtune=generic" ;;  # AVX2 + FMA
  aarch64) default_arch_flags="-mcpu=neoverse-n1" ;;  # Graviton2, the oldest arm64 Lambda CPU
  *) default_arch_flags="" ;;
esac
arch_flags="${DARKNET_ARCH_FLAGS:-$default_arch_flags}"

# Enable source packages for whichever sources format the base image uses.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
fi
if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/deb-src.list
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends build-essential dpkg-dev ca-certificates >/dev/null

work="$(mktemp -d)"
cd "$work"
apt-get source -qq darknet 2>/dev/null
cd darknet-*
case "$(basename "$PWD")" in
  *61c9d02e*) ;;
  *) echo "build-darknet: expected upstream commit 61c9d02e, got $(basename "$PWD")" >&2; exit 1 ;;
esac
mkdir upstream
cp src/stb_image.h upstream/
for patch in "$here"/patches/*.patch; do
  patch -p1 --quiet <"$patch"
done

make -j"$(nproc)" OPENMP=1 OPTS="-O3 $arch_flags" obj backup results darknet libdarknet.so >/dev/null

# The decode must stay upstream's bytes: patches/0004's colour conversion against upstream's, built
# with Darknet's own flags, for every (Y, Cb, Cr).
# shellcheck disable=SC2086
gcc -O3 $arch_flags -w -DRGB_FUNCTION=upstream_rgb -Iupstream -c "$here/rgb-kernel.c" -o upstream-rgb.o
# shellcheck disable=SC2086
gcc -O3 $arch_flags -w -DRGB_FUNCTION=patched_rgb -Isrc -c "$here/rgb-kernel.c" -o patched-rgb.o
gcc -O2 -Wall -Werror "$here/check-rgb-conversion.c" upstream-rgb.o patched-rgb.o -o check-rgb-conversion
./check-rgb-conversion

install -D -m 0755 darknet "$prefix/bin/darknet"
install -D -m 0644 libdarknet.so "$prefix/lib/libdarknet.so"
mkdir -p "$prefix/cfg" "$prefix/data" /usr/share/darknet/data
cp cfg/*.cfg "$prefix/cfg/"
cp data/coco.names data/*.jpg "$prefix/data/"
cp -r data/labels /usr/share/darknet/data/labels
rm -rf "$work"
"$prefix/bin/darknet" 2>&1 | grep -q "usage" || { echo "build-darknet: binary does not run" >&2; exit 1; }
