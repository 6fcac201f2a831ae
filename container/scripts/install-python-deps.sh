#!/bin/sh
# Install the image's Python dependencies into plain folders (Debian's python3 has no pip at
# run time): runtime wheels into $2/python and build-only wheels into $2/build-python. Uses the
# wheelhouse in $1/cache/wheels when it holds wheels for this architecture (offline builds; the host
# downloaded them), otherwise the index.
set -eu
src="$1"
dest="$2"
wheels="$src/cache/wheels"
# A wheelhouse for another machine than x86_64 has its own folder (build-image.sh fills it).
if [ -d "$src/cache/wheels-$(uname -m)" ]; then
  wheels="$src/cache/wheels-$(uname -m)"
fi

# The host fills the wheelhouse for its own architecture; a build for another one uses the index.
if ls "$wheels"/*"$(uname -m)".whl >/dev/null 2>&1; then
  source_args="--no-index --find-links $wheels"
else
  source_args=""
fi
# numpy: the wheel the numpy stage built without BLAS (build-numpy.sh), named as a file so that pip takes
# it over the index's; none when that stage left PyPI's wheel to the index.
numpy_wheel="$(ls "$src"/numpy/numpy-*.whl 2>/dev/null || true)"
pip_install() {
  # shellcheck disable=SC2086
  python3 -m pip install --quiet --disable-pip-version-check --no-compile --only-binary=:all: \
    $source_args --target "$1" -r "$2" $numpy_wheel
}

pip_install "$dest/python" "$src/requirements.txt"
grep -v '^aws-sam-cli' "$src/requirements-build.txt" >"$src/requirements-convert.txt"
pip_install "$dest/build-python" "$src/requirements-convert.txt"

# botocore carries API models for every AWS service (~80 MB); the handler calls S3, Lambda and
# EventBridge (completion events).
data="$dest/python/botocore/data"
for entry in "$data"/*; do
  case "$(basename "$entry")" in
    s3|lambda|sts|events|*.json) ;;
    *) rm -rf "$entry" ;;
  esac
done
# onnxruntime's model-tuning tools, ONNX test backend and sample models are never imported at run time,
# and its Python module links the runtime statically: the separate libonnxruntime.so serves C API users.
rm -rf "$dest/python/onnxruntime/transformers" "$dest/python/onnxruntime/quantization" \
       "$dest/python/onnxruntime/tools" "$dest/python/onnxruntime/backend" "$dest/python/onnxruntime/datasets" \
       "$dest/python/bin" "$dest"/python/onnxruntime/capi/libonnxruntime.so.*
# protobuf, sympy, coloredlogs, flatbuffers and packaging come with onnxruntime for the tools and the
# backend removed above: the session reads the graph in C++.
for package in google/protobuf google/_upb protobuf sympy isympy mpmath coloredlogs humanfriendly flatbuffers \
               packaging; do
  rm -rf "${dest:?}/python/$package" "$dest/python/$package".py "$dest/python/$package"-*.dist-info
done
rm -f "$dest"/python/coloredlogs.pth
# dateutil's own time zone database serves tz.gettz() where the system has none; botocore only asks for UTC
# and local time.
rm "$dest"/python/dateutil/zoneinfo/dateutil-zoneinfo.tar.gz
rmdir "$dest/python/google" 2>/dev/null || true
# numpy's build and packaging tools (f2py, distutils, the C headers and static library for extensions
# built against it) and its compiled test modules are never loaded by an installed program.
core="$dest/python/numpy/_core"
rm -rf "$dest/python/numpy/f2py" "$dest/python/numpy/distutils" "$dest/python/numpy/_pyinstaller" \
       "$core/include" "$core/lib" "$core"/_*_tests.cpython-* "$core"/_simd.cpython-*
# Pillow's Tk bridge and font rendering (FreeType, HarfBuzz, Brotli): the function reads images only.
rm -f "$dest"/python/PIL/_imagingtk.* "$dest"/python/PIL/_imagingft.* "$dest"/python/pillow.libs/libfreetype-* \
      "$dest"/python/pillow.libs/libharfbuzz-* "$dest"/python/pillow.libs/libbrotli*
# Powertools' Swagger UI assets: served only by an API that enables its OpenAPI page, which this one does not.
rm -f "$dest"/python/aws_lambda_powertools/event_handler/openapi/swagger_ui/*.js \
      "$dest"/python/aws_lambda_powertools/event_handler/openapi/swagger_ui/*.css
# Powertools' utilities that nothing here imports: the parser (it needs pydantic, which the image does not
# have), idempotency, parameters, feature flags, circuit breaker, Kafka, data masking, streaming and the
# authorisation alpha.
for utility in parser idempotency parameters feature_flags circuit_breaker kafka data_masking streaming auth_alpha; do
  rm -r "$dest/python/aws_lambda_powertools/utilities/$utility"
done
# Powertools' event_handler and data_classes packages import every resolver and every event class they
# export; the function uses API Gateway's resolver and four event classes. Rewritten to import each name
# on first use, a request no longer imports the AppSync resolver and asyncio with it (docs/performance.md).
python3 "$src/lazy-package-init.py" "$dest/python" aws_lambda_powertools.event_handler \
  aws_lambda_powertools.utilities.data_classes
# Type stubs and Cython declarations serve editors and compilers, never the interpreter; a wheel's RECORD
# serves pip's uninstall.
find "$dest/python" -type f \( -name '*.pyi' -o -name '*.pxd' -o -name py.typed -o -name RECORD \) -delete
# Symbol tables serve debuggers: several wheels ship their extension modules with them (2.7 of Pillow's
# 3.5 MB, numpy's main module). A library that stripping would leave unloadable keeps them (numpy's arm64
# wheel's OpenBLAS and gfortran: strip-loadable.py says why).
python3 "$src/strip-loadable.py" "$dest/python"
find "$dest/python" -type d \( -name tests -o -name __pycache__ \) -prune -exec rm -rf {} +
