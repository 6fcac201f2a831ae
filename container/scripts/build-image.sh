#!/usr/bin/env bash
# `make image`: everything a fresh machine needs to build the Lambda image offline.
# Installs and starts a Docker engine if needed, provides the base image, fills
# container/cache with the Python wheels (downloaded by the host's pip, which trusts the
# host's TLS set-up) and the verified weights, then builds IMAGE_TAG (the contract's tag of MODEL) and its
# reference variant, IMAGE_TAG-reference, which adds Darknet's CLI and the weights for DETECTOR_ENGINE=darknet.
# ARCH=arm64 builds for Lambda's arm64 (Graviton) on any host: the build's RUN steps run under
# qemu-user (ensure-qemu.sh), on an arm64 base image made the same way as the x86_64 one, with
# aarch64 wheels in their own wheelhouse (cache/wheels-aarch64).
# PREOPTIMISED_LAYOUTS (the Dockerfile's build argument, "native avx2" unless set) names the graphs
# pre-optimised for a faster cold start: each adds the graph's size to the image.
# MODEL_DIR=path builds a team's own model instead: the folder's one .cfg, .weights and .names file
# (named after the cfg), trained by the fork unless MODEL_FLAVOUR=pjreddie; the build checks that they
# agree and says what does not.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
context="$(dirname "$here")"
python="${PYTHON:-python3}"
# The defaults (model, tags) are the contract's, read with the standard library alone.
contract() { PYTHONPATH="$context" "$python" -m darknet_detector.contract "$@"; }
model="${MODEL:-$(contract default-model)}"
model_dir="${MODEL_DIR:-}"
flavour="${MODEL_FLAVOUR:-}"

# The build context's model/ folder holds the own model's files during the build, nothing otherwise
# (so that any other build of container/ sees the same context).
staging="$context/model"
clear_staging() { find "$staging" -mindepth 1 ! -name README.md -delete; }
clear_staging
trap clear_staging EXIT
if [[ -n "$model_dir" ]]; then
  only_file() {
    local found=("$model_dir"/*."$1")
    if [[ ${#found[@]} -ne 1 || ! -f "${found[0]}" ]]; then
      echo "build-image: MODEL_DIR $model_dir must hold exactly one .$1 file (found ${#found[@]})" >&2
      exit 1
    fi
    echo "${found[0]}"
  }
  cfg="$(only_file cfg)" weights="$(only_file weights)" names="$(only_file names)"
  model="$(basename "$cfg" .cfg)"
  if [[ ! "$model" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
    echo "build-image: the cfg's name $model.cfg must be letters, digits, '.', '_' or '-'" >&2
    exit 1
  fi
  cp "$cfg" "$staging/$model.cfg"
  cp "$weights" "$staging/$model.weights"
  cp "$names" "$staging/$model.names"
fi
tag="${IMAGE_TAG:-$(contract image-tag "$model")}"
# The reference variant (the default image plus Darknet's CLI and the weights).
reference_target="$(contract reference-target)"
reference="$(contract reference-tag "$tag")"
build_args=(--build-arg "MODEL=$model" --build-arg "MODEL_FLAVOUR=$flavour")
if [[ -n "${PREOPTIMISED_LAYOUTS+set}" ]]; then
  build_args+=(--build-arg "PREOPTIMISED_LAYOUTS=$PREOPTIMISED_LAYOUTS")
fi

bash "$here/ensure-docker.sh"
case "${ARCH:-x86_64}" in
  x86_64)
    bash "$here/ensure-base-image.sh"
    wheels="$context/cache/wheels"
    machine=x86_64
    wheel_platforms=(manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
                     manylinux1_x86_64 manylinux_2_5_x86_64)
    ;;
  arm64)
    # Docker's arm64-only repository of the official image: found locally when made offline, pulled
    # online, and never confused with the host's debian:bookworm-slim.
    base=arm64v8/debian:bookworm-slim
    bash "$here/ensure-qemu.sh" aarch64 >/dev/null
    BASE_IMAGE="$base" BASE_PLATFORM=linux/arm64 bash "$here/ensure-base-image.sh"
    build_args+=(--platform linux/arm64 --build-arg "BASE_IMAGE=$base")
    wheels="$context/cache/wheels-aarch64"
    machine=aarch64
    wheel_platforms=(manylinux_2_28_aarch64 manylinux_2_17_aarch64 manylinux2014_aarch64)
    ;;
  *)
    echo "build-image: ARCH must be x86_64 or arm64, not ${ARCH}" >&2
    exit 1
    ;;
esac

mkdir -p "$wheels"
# numpy is compiled from its sdist in the build (build-numpy.sh): the wheel it makes is kept here, as long
# as numpy's pin and the recipe stay the same, because compiling takes minutes.
numpy_version="$(sed -n 's/^numpy==//p' "$context/requirements.txt")"
numpy_wheel="numpy-$numpy_version-cp311-cp311-linux_$machine.whl"
numpy_stamp="$wheels/.numpy-build.sha256"
numpy_recipe="$(cat "$context/requirements-numpy.txt" "$here/numpy-build.ini" "$here/build-numpy.sh" \
  <(echo "$numpy_version") | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$numpy_stamp" 2>/dev/null)" != "$numpy_recipe" ]]; then
  rm -f "$wheels/$numpy_wheel"
  echo "$numpy_recipe" >"$numpy_stamp"
fi
stamp="$wheels/.requirements.sha256"
wanted="$(cat "$context/requirements.txt" "$context/requirements-build.txt" "$context/requirements-numpy.txt" \
  | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  echo "build-image: downloading wheels for the image (CPython 3.11, ${wheel_platforms[0]})" >&2
  find "$wheels" -maxdepth 1 \( -name '*.whl' -o -name '*.tar.gz' \) ! -name "$numpy_wheel" -delete
  "$python" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --implementation cp --python-version 3.11 \
    "${wheel_platforms[@]/#/--platform=}" \
    -r "$context/requirements.txt" -r <(grep -v '^aws-sam-cli' "$context/requirements-build.txt") \
    -r "$context/requirements-numpy.txt" --dest "$wheels"
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "$(grep '^aws-sam-cli' "$context/requirements-build.txt")" --dest "$wheels"
  # numpy's sdist, read by a stand-in metadata hook (sdist_metadata/mesonpy.py says why).
  PYTHONPATH="$here/sdist_metadata" "$python" -m pip download --quiet --disable-pip-version-check \
    --no-deps --no-binary numpy --no-build-isolation "numpy==$numpy_version" --dest "$wheels"
  echo "$wanted" >"$stamp"
fi

if [[ -z "$model_dir" ]]; then
  "$python" "$here/fetch_model.py" "$model" "$context/cache/models" >/dev/null
fi

# One build at a time on this engine: a second build's prune would remove the first one's stages.
lock_dir="${XDG_CACHE_HOME:-$HOME/.cache}/darknet-lambda"
mkdir -p "$lock_dir"
exec {lock}>"$lock_dir/image-build.lock"
flock "$lock"

started=$SECONDS
stage_tag() { echo "${tag%%:*}-stage:$1-${tag##*:}"; }
if [[ "$machine" != "$(uname -m)" ]]; then
  # Compiling numpy under emulation would take hours: an emulated build installs PyPI's wheel.
  build_args+=(--build-arg NUMPY_FROM_SOURCE=0)
elif [[ ! -f "$wheels/$numpy_wheel" ]]; then
  # Compiled before the image, then kept in the wheelhouse: later builds copy it (build-numpy.sh), and the
  # wheelhouse that the image's build reads does not change after its first build.
  echo "build-image: compiling numpy $numpy_version without BLAS (once for this pin and recipe)" >&2
  docker build --quiet "${build_args[@]}" --target numpy -t "$(stage_tag numpy)" "$context" >/dev/null
  container="$(docker create "$(stage_tag numpy)" true)"
  docker cp "$container:/build/numpy/$numpy_wheel" "$wheels/"
  docker rm "$container" >/dev/null
fi
docker build --quiet "${build_args[@]}" -t "$tag" "$context" >/dev/null
docker build --quiet "${build_args[@]}" --target "$reference_target" -t "$reference" "$context" >/dev/null
# The legacy builder's build cache is the build stages' images. Tag the current ones (instant:
# every stage is cached by now) so that pruning untagged images removes only stale stages. Stage
# tags follow the image tag, so builds of different sources keep their own caches.
for stage in numpy darknet python-deps model runtime-files; do
  docker build --quiet "${build_args[@]}" --target "$stage" -t "$(stage_tag "$stage")" "$context" >/dev/null
done
docker image prune --force >/dev/null 2>&1 || true
flock --unlock "$lock"
size() { docker image inspect -f '{{.Size}}' "$1" | numfmt --to=si; }
echo "build-image: $tag ($(size "$tag")B) and $reference ($(size "$reference")B) built in $((SECONDS - started)) s" >&2
