"""The detection itself: images checked and decoded, the pipeline behind every path, its outputs.

Knows nothing of AWS event shapes or HTTP (serving) and nothing of which engine runs (engines).
"""
