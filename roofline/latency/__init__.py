"""The latency model: the roofline equation, ridge-point sweeps and their presets."""
