"""The latency model: the roofline equation, ridge-point sweeps and their presets."""

__all__: list[str] = []
