"""The model zoo: MobileNetV4 and its baselines, their published figures, and our fidelity."""
