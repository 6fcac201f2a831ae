#!/bin/sh
# Make the numpy wheel the image installs, in $2: numpy compiled from its sdist without BLAS or LAPACK
# (options in numpy-build.ini). The function does no linear algebra: numpy decodes, resizes and converts
# arrays around the engine, and ONNX Runtime's Python layer only hands it arrays. PyPI's wheel carries
# OpenBLAS and its Fortran runtime (28.5 MB, 8.6 MB gzip) for that algebra.
# Compiling takes minutes, so a wheel already built for this numpy and CPU in the wheelhouse
# ($1/cache/wheels, where `make image` keeps it) is used as it is. $3=0 leaves $2 empty, and the image
# installs PyPI's wheel (build-image.sh asks for that on a CPU it emulates, where compiling takes hours).
set -eu
src="$1"
out="$2"
mkdir -p "$out"
[ "${3:-1}" = 1 ] || exit 0
wheels="$src/cache/wheels"
if [ -d "$src/cache/wheels-$(uname -m)" ]; then
  wheels="$src/cache/wheels-$(uname -m)"
fi
version="$(sed -n 's/^numpy==//p' "$src/requirements.txt")"
built="$wheels/numpy-$version-cp311-cp311-linux_$(uname -m).whl"
if [ -f "$built" ]; then
  cp "$built" "$out/"
  exit 0
fi
# Offline, the host put the sdist and the build tools in the wheelhouse; online, the index has them.
if [ -f "$wheels/numpy-$version.tar.gz" ]; then
  source_args="--no-index --find-links $wheels"
else
  source_args=""
fi
# On x86_64 the SIMD kernels are dispatched up to AVX2 (numpy's X86_V3) only, not AVX-512: every x86 CPU
# Lambda runs on has AVX2, Darknet and the network input are built for it, and a Lambda host with AVX-512
# then runs the very kernels the tests and the parity check ran on an AVX2 build machine. The wheel is
# 0.8 MB smaller (9.3 against 10.1 MB); the compile takes about as long.
dispatch=""
if [ "$(uname -m)" = x86_64 ]; then
  dispatch="--config-settings=setup-args=-Dcpu-dispatch=X86_V3"
fi
# The build tools come pinned (PIP_CONSTRAINT reaches pip's isolated build environment); binaries are
# stripped at install, as PyPI's wheel leaves its main extension module unstripped (10.4 MB).
# shellcheck disable=SC2086
PIP_CONSTRAINT="$src/requirements-numpy.txt" python3 -m pip wheel --quiet --disable-pip-version-check \
  --no-deps --only-binary=:all: --no-binary numpy $source_args --wheel-dir "$out" \
  --config-settings=setup-args=--native-file="$src/numpy-build.ini" $dispatch \
  --config-settings=install-args=--strip "numpy==$version"
ls "$out"/numpy-*.whl
