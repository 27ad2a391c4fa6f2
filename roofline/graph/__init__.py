"""Graph sources -> op records -> the layer table: the torch tracer, MAC formulas, layers and
fusion. Deployed-graph readers (.tflite, .onnx) produce the same records."""
