#!/bin/sh
# Build libdarknet_input.so (network_input.c) into DIR with the CPU flags build-darknet.sh gives image.c,
# and with -ffp-contract=off: the source writes out the one fused multiply-add Darknet's resize has.
set -eu
prefix="${1:?usage: build.sh DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
case "$(uname -m)" in
  x86_64) default_arch_flags="-march=haswell -mtune=generic" ;;
  aarch64) default_arch_flags="-mcpu=neoverse-n1" ;;
  *) default_arch_flags="" ;;
esac
arch_flags="${DARKNET_ARCH_FLAGS:-$default_arch_flags}"
mkdir -p "$prefix"
# shellcheck disable=SC2086
gcc -O3 $arch_flags -ffp-contract=off -fPIC -shared -Wall -Wextra -Werror \
  -o "$prefix/libdarknet_input.so" "$here/network_input.c" -lm
