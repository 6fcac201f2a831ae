"""In the built image: the network input from 8-bit pixels is libdarknet's letterbox_image/resize_image,
bit for bit, both as core.resize computes it in numpy and as Libdarknet.network_input does in C
(container/native/network_input.c, the warm path's).

The image's libdarknet.so is the arithmetic both repeat (its compiler's fused multiply-add included), so
the comparison runs where that library is: on the seven samples in every orientation, on crops of them
(what tiles are), and on noise at odd sizes, for three network sizes, letterboxed or not.
"""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.docker

SAME_TENSOR = """
import json
import random
from pathlib import Path
import numpy as np
from darknet_detector.core.decoding import orient
from darknet_detector.core.libdarknet import Libdarknet
from darknet_detector.core.resize import network_input

darknet = Libdarknet()
photos = {p.stem: darknet.stb_array(p.read_bytes()) for p in sorted(Path("/opt/darknet/data").glob("*.jpg"))}
# The standard library's generator: the image leaves numpy.random out.
rng = random.Random(21)
odd = [(1, 1), (1, 7), (7, 1), (2, 2), (417, 416), (416, 417), (1000, 3), (3, 1000), (833, 201), (4001, 2999)]
for w, h in odd:
    photos[f"noise-{w}x{h}"] = np.frombuffer(rng.randbytes(h * w * 3), np.uint8).reshape(h, w, 3).copy()
checked, different, refused, fused_refused = 0, [], [], []
for name, pixels in photos.items():
    views = {f"orientation-{o}": orient(pixels, o) for o in range(1, 9)}
    views["crop"] = pixels[len(pixels) // 5 :, len(pixels[0]) // 3 : -1]
    for view_name, view in views.items():
        if 0 in view.shape:
            continue
        image = darknet.float_image(view)
        for net in ((416, 416), (608, 608), (320, 256)):
            for letterbox in (True, False):
                fused = darknet.network_input(view, *net, letterbox)
                if fused is None:
                    fused_refused.append([name, view_name, *net, letterbox])
                try:
                    ours = network_input(view, *net, letterbox)
                except ValueError:
                    refused.append([name, view_name, *net, letterbox])  # Darknet's assert would abort
                    continue
                theirs = (darknet.letterbox if letterbox else darknet.resize)(image.struct, *net)
                for way, tensor in (("numpy", ours), ("c", ours if fused is None else fused)):
                    checked += 1
                    bits = tensor.view(np.int32)
                    if tensor.shape != theirs.shape or not (bits == theirs.view(np.int32)).all():
                        different.append([way, name, view_name, *net, letterbox])
report = {"checked": checked, "different": different, "refused": refused, "fused_refused": fused_refused}
print(json.dumps({**report, "fused_input": darknet.fused_input}))
"""


def test_the_network_input_from_8_bit_pixels_is_darknet_s_bit_for_bit(detector_image):
    done = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "python3",
            detector_image,
            "-c",
            SAME_TENSOR,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["different"] == [], report["different"][:10]
    assert report["checked"] > 1000, report
    # Only the shapes Darknet cannot letterbox (one row high) are refused, by both.
    assert all(name.startswith("noise-") for name, *_ in report["refused"]), report["refused"]
    assert report["fused_input"], "the image lacks libdarknet_input.so"
    assert report["fused_refused"] == report["refused"], report["fused_refused"]
