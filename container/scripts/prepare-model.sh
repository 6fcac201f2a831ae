#!/bin/sh
# Assemble /opt/model: a team's own model when the build context's model/ folder holds
# "$model".cfg/.weights/.names (`make image MODEL_DIR=...`), else a model of models.json (its cfg
# from Darknet's source or the repo's cfg/, verified weights from cache/models or downloaded here,
# coco.names). darknet_detector.building: model_dir checks that cfg, weights and names agree, convert
# writes the ONNX graph, preoptimise the graphs pre-optimised per CPU layout, and parity checks models the
# Darknet CLI can run against it on the sample images (a mismatch fails the build).
set -eu
model="$1"
src="$2"
flavour_override="${3:-}"
out=/opt/model

if [ -f "$src/model/$model.cfg" ]; then
  cfg="$src/model/$model.cfg"
  weights="$src/model/$model.weights"
  names="$src/model/$model.names"
  flavour="${flavour_override:-fork}"
  # pjreddie's Darknet runs what it trained; the fork's layers and options it does not have.
  [ "$flavour" = pjreddie ] && darknet_cli="--darknet-cli" || darknet_cli=""
else
  manifest() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
    "$src/models.json" "$model" "$1"; }
  cfg_ref="$(manifest cfg)"
  case "$cfg_ref" in
    darknet:*) cfg="/opt/darknet/${cfg_ref#darknet:}" ;;
    repo:*) cfg="$src/${cfg_ref#repo:}" ;;
    *) echo "prepare-model: $model: cfg $cfg_ref is neither darknet: nor repo:" >&2; exit 1 ;;
  esac
  flavour="${flavour_override:-$(manifest flavour)}"
  [ "$(manifest darknet_cli)" = True ] && darknet_cli="--darknet-cli" || darknet_cli=""
  mkdir -p "$src/cache/models"
  weights="$(python3 "$src/fetch_model.py" --manifest "$src/models.json" "$model" "$src/cache/models")"
  names=/opt/darknet/data/coco.names
fi

cd /var/task
# shellcheck disable=SC2086
python3 -m darknet_detector.building.model_dir assemble --cfg "$cfg" --weights "$weights" --names "$names" \
  --out "$out" --model "$model" --flavour "$flavour" $darknet_cli
python3 -m darknet_detector.building.convert "$out/$model.cfg" "$out/$model.weights" "$out/$model.onnx" --flavour "$flavour"
# Graphs pre-optimised per CPU layout (darknet_detector.building.preoptimise), each checked bit for bit against the
# plain graph: PREOPTIMISED_LAYOUTS names them, "native" (this CPU's) and "avx2" (what Lambda's x86
# functions are promised, on qemu's Haswell model unless native is the same); "" ships none (a
# start-up without one optimises the plain graph). Each is about 10 KB: its weights are derived from
# the plain graph's at start-up. Made before the parity check, so that it runs the graph a start-up
# loads.
layouts="${PREOPTIMISED_LAYOUTS-native avx2}"
for layout in $layouts; do
  case "$layout" in
    native | avx2) ;;
    *) echo "prepare-model: PREOPTIMISED_LAYOUTS: $layout is neither native nor avx2" >&2; exit 1 ;;
  esac
done
if [ "$(uname -m)" = x86_64 ]; then
  case " $layouts " in
    *" native "*) python3 -m darknet_detector.building.preoptimise --model-dir "$out" --model "$model" ;;
  esac
  case " $layouts " in
    *" avx2 "*)
      if [ ! -f "$out/$model.x86_64-nchwc8.onnx" ]; then
        qemu-x86_64 -cpu Haswell "$(command -v python3)" -m darknet_detector.building.preoptimise --model-dir "$out" \
          --model "$model" --expect-block 8
      fi
      ;;
  esac
fi
if [ -n "$darknet_cli" ]; then
  python3 -m darknet_detector.building.parity --model-dir "$out" --model "$model" --darknet /opt/darknet/bin/darknet \
    /opt/darknet/data/*.jpg
fi
