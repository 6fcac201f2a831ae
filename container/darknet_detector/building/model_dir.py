"""The build-time step that assembles a model directory and checks that its files agree.

`python3 -m darknet_detector.building.model_dir assemble` copies a cfg, weights and names file in, checks
that they agree (class count of every head vs names, weights size vs cfg) and says precisely what does
not, writes the .data file the Darknet CLI reads and model.json (flavour, whether the Darknet CLI can run
it). Used for manifest models and for a team's own model (`make image MODEL_DIR=...`) alike; `check`
alone is what DarknetImage runs on a team's model before anything is built.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from darknet_detector.building.convert import (
    build_layers,
    parse_cfg,
    read_weights_header,
    weights_bytes_needed,
)
from darknet_detector.building.layers import HEAD_KINDS, ConversionError
from darknet_detector.contract import FLAVOURS
from darknet_detector.model_format import ModelFiles, read_names


def check_model(cfg: Path, weights: Path, names: Path, flavour: str) -> list[str]:
    """What disagrees between cfg, weights and names, each said precisely; empty when they agree."""
    try:
        _, layers = build_layers(parse_cfg(Path(cfg).read_text()), flavour)
    except ConversionError as error:
        return [f"{Path(cfg).name}: {error}"]
    problems = []
    data = Path(weights).read_bytes()[:20]
    size = Path(weights).stat().st_size
    try:
        header = read_weights_header(data)
        needed = weights_bytes_needed(layers)
        if size - header.size != needed:
            problems.append(
                f"{Path(weights).name} is {size} bytes: the cfg's layers need {header.size + needed} "
                f"({header.size}-byte header + {needed} bytes of floats), "
                f"{size - header.size - needed:+d} bytes off: the weights were trained with another cfg"
            )
    except ConversionError as error:
        problems.append(f"{Path(weights).name}: {error}")
    labels = read_names(names)
    for head in (layer for layer in layers if isinstance(layer, HEAD_KINDS)):
        if head.classes != len(labels):
            problems.append(
                f"{head.describe()} has classes={head.classes} but {Path(names).name} lists "
                f"{len(labels)} names"
            )
    return problems


def assemble(
    cfg: Path, weights: Path, names: Path, out_dir: Path, model: str, flavour: str, darknet_cli: bool
) -> ModelFiles:
    problems = check_model(cfg, weights, names, flavour)
    if problems:
        raise ConversionError("the model's files do not agree:\n  " + "\n  ".join(problems))
    files = ModelFiles(Path(out_dir), model)
    files.directory.mkdir(parents=True, exist_ok=True)
    for source, target in ((cfg, files.cfg), (weights, files.weights), (names, files.names)):
        if Path(source).resolve() != target.resolve():
            shutil.copyfile(source, target)
    files.data.write_text(f"classes = {len(read_names(names))}\nnames = {files.names}\n")
    files.info.write_text(json.dumps({"model": model, "flavour": flavour, "darknet_cli": darknet_cli}) + "\n")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Assemble and check a model directory.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("assemble", "check"):
        command = sub.add_parser(name)
        command.add_argument("--cfg", type=Path, required=True)
        command.add_argument("--weights", type=Path, required=True)
        command.add_argument("--names", type=Path, required=True)
        command.add_argument("--flavour", choices=FLAVOURS, default="fork")
    assemble_parser = sub.choices["assemble"]
    assemble_parser.add_argument("--out", type=Path, required=True)
    assemble_parser.add_argument("--model", required=True)
    assemble_parser.add_argument(
        "--darknet-cli", action="store_true", help="the image's Darknet CLI can run it"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            problems = check_model(args.cfg, args.weights, args.names, args.flavour)
            if problems:
                raise ConversionError("the model's files do not agree:\n  " + "\n  ".join(problems))
            print("model files agree")
        else:
            files = assemble(
                args.cfg, args.weights, args.names, args.out, args.model, args.flavour, args.darknet_cli
            )
            print(f"assembled {files.directory} for {args.model} ({args.flavour})")
    except ConversionError as error:
        print(f"model check failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
