# placeholder - replaced by the stream layer
"""Placeholder until the stream layer lands."""


class CoordUpdate:
    """Placeholder."""
