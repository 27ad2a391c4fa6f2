"""Deployed runtimes: export to .tflite/.onnx and measurement on LiteRT and ONNX Runtime."""

__all__: list[str] = []
