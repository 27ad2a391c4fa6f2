"""Hardware profiles: the registry of devices, every number with its basis and source."""

__all__: list[str] = []
