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
# The build tools come pinned (PIP_CONSTRAINT reaches pip's isolated build environment); binaries are
# stripped at install, as PyPI's wheel leaves its main extension module unstripped (10.4 MB).
# shellcheck disable=SC2086
PIP_CONSTRAINT="$src/requirements-numpy.txt" python3 -m pip wheel --quiet --disable-pip-version-check \
  --no-deps --only-binary=:all: --no-binary numpy $source_args --wheel-dir "$out" \
  --config-settings=setup-args=--native-file="$src/numpy-build.ini" \
  --config-settings=install-args=--strip "numpy==$version"
ls "$out"/numpy-*.whl
