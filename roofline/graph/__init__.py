"""Graph sources -> op records -> the layer table: the torch tracer, MAC formulas, layers and
fusion. Deployed-graph readers (.tflite, .onnx) produce the same records.

Each module is imported by name (``roofline.graph.layers``, ``roofline.graph.kinds``): the
torch side (``formulas``, ``torch_trace``, ``torch_inputs``) is not loaded by the analysis side.
"""

__all__: list[str] = []
