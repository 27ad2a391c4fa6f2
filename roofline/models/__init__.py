"""The model zoo: MobileNetV4 and its baselines, their published figures, and our fidelity."""

__all__: list[str] = []
