"""In the built image: the network input from 8-bit pixels (Libdarknet.network_input, in C:
container/native/network_input.c) is libdarknet's letterbox_image/resize_image, bit for bit.

The image's libdarknet.so is the arithmetic it repeats (its compiler's fused multiply-add included), so
the comparison runs where that library is: on the seven samples in every orientation, on crops of them
(what tiles are), and on noise at odd sizes and above contract.DRAWN_MAX_PIXELS (a large photo's
path), for three network sizes, letterboxed or not.
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
from darknet_detector.contract import DRAWN_MAX_PIXELS
from darknet_detector.core.decoding import orient
from darknet_detector.core.libdarknet import Libdarknet
from darknet_detector.engines.heads import letterbox_size

darknet = Libdarknet()
photos = {p.stem: darknet.stb_array(p.read_bytes()) for p in sorted(Path("/opt/darknet/data").glob("*.jpg"))}
# The standard library's generator: the image leaves numpy.random out.
rng = random.Random(21)
odd = [(1, 1), (1, 7), (7, 1), (2, 2), (417, 416), (416, 417), (1000, 3), (3, 1000), (833, 201), (4001, 2999)]
odd.append((4099, 4097))  # over DRAWN_MAX_PIXELS: the input of a large photo's full decode
for w, h in odd:
    photos[f"noise-{w}x{h}"] = np.frombuffer(rng.randbytes(h * w * 3), np.uint8).reshape(h, w, 3).copy()
checked, large, different, refused, darknet_refuses = 0, 0, [], [], []
for name, pixels in photos.items():
    views = {f"orientation-{o}": orient(pixels, o) for o in range(1, 9)}
    views["crop"] = pixels[len(pixels) // 5 :, len(pixels[0]) // 3 : -1]
    for view_name, view in views.items():
        if 0 in view.shape:
            continue
        height, width = view.shape[:2]
        image = darknet.float_image(view)
        for net in ((416, 416), (608, 608), (320, 256)):
            for letterbox in (True, False):
                new_w, new_h = letterbox_size(width, height, *net) if letterbox else net
                case = [name, view_name, *net, letterbox]
                if new_w < 1 or new_h < 2:  # resize_image's NaN scale: Darknet's assert would abort
                    darknet_refuses.append(case)
                fused = darknet.network_input(view, *net, letterbox)
                if fused is None:
                    refused.append(case)
                    continue
                theirs = (darknet.letterbox if letterbox else darknet.resize)(image.struct, *net)
                checked += 1
                large += width * height > DRAWN_MAX_PIXELS
                bits = fused.view(np.int32)
                if fused.shape != theirs.shape or not (bits == theirs.view(np.int32)).all():
                    different.append(case)
report = {"checked": checked, "large": large, "different": different, "refused": refused}
print(json.dumps({**report, "darknet_refuses": darknet_refuses, "fused_input": darknet.fused_input}))
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
    assert report["fused_input"], "the image lacks libdarknet_input.so"
    assert report["different"] == [], report["different"][:10]
    assert report["checked"] > 900, report
    assert report["large"] == 8 * 3 * 2, report  # the large noise: 8 orientations, 3 sizes, 2 modes
    # Only the shapes Darknet cannot letterbox (under two rows) are refused.
    assert report["refused"] == report["darknet_refuses"], report["refused"]
    assert all(name.startswith("noise-") for name, *_ in report["refused"]), report["refused"]
