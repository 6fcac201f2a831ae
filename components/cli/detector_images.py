"""The detector's own image sniffing (standard library only), so the command refuses what the API would.

The wheel installs the image's code as darknet_lambda.container.detector; an editable install of the
source tree cannot import that folder (container/ is no package), so there it comes from container/.
"""

import sys
from pathlib import Path

try:
    from darknet_lambda.container.detector.images import SUPPORTED_FORMATS, SUPPORTED_NAMES, sniff
except ModuleNotFoundError:
    sys.path.append(str(Path(__file__).resolve().parents[2] / "container"))
    from detector.images import SUPPORTED_FORMATS, SUPPORTED_NAMES, sniff

__all__ = ["SUPPORTED_FORMATS", "SUPPORTED_NAMES", "sniff"]
