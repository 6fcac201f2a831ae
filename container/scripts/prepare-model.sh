#!/bin/sh
# Assemble /opt/model for one model of models.json: the cfg from Darknet's source, verified
# weights (cache/models when `make image` filled it, else downloaded here), coco.names and a
# .data file with absolute paths, then the ONNX graph converted from them and checked for
# parity against the Darknet binary on the sample images. A mismatch fails the build.
set -eu
model="$1"
src="$2"
out=/opt/model

mkdir -p "$out"
cp "/opt/darknet/cfg/$model.cfg" "$out/$model.cfg"
cp /opt/darknet/data/coco.names "$out/coco.names"
printf 'classes = 80\nnames = %s/coco.names\n' "$out" >"$out/coco.data"
mkdir -p "$src/cache/models"
weights="$(python3 "$src/fetch_model.py" --manifest "$src/models.json" "$model" "$src/cache/models")"
cp "$weights" "$out/$model.weights"

cd /var/task
python3 -m detector.darknet_onnx "$out/$model.cfg" "$out/$model.weights" "$out/$model.onnx"
python3 -m detector.parity --model-dir "$out" --model "$model" --darknet /opt/darknet/bin/darknet \
  /opt/darknet/data/*.jpg
