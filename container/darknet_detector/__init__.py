"""Darknet/YOLO object detection for AWS Lambda: engines, event handling and outputs."""
