"""The engines that turn an upright image into detections: ONNX Runtime (the default) and the Darknet CLI.

loader picks one by the settings; both report what `darknet detector test` reports.
"""
